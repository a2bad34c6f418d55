"""llama.cpp as the CPU serving peer: `llama-bench` for batch-1 decode, `llama-server` for
concurrent streamed completions, on the original GGUF file.

The binaries are looked up in $LLAMA_CPP_DIR, then ../shared/tools/llama.cpp beside the
project (each either holding them or a bin/ folder with them). A prebuilt binary may not
run on this CPU (SIGILL: that folder's build.sh rebuilds them for it), so each candidate
must decode a token with the model first; `find` returns None and the reasons when none does, and the
caller reports the peer as skipped. HTTP is the standard library
only: one thread per request, Server-Sent Events read line by line.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DIR = ROOT.parent / "shared" / "tools" / "llama.cpp"


def find(gguf: Path) -> tuple[Path | None, list[str]]:
    """The folder holding working llama-bench and llama-server, or None; and why not others."""
    why = []
    for base in filter(None, [os.environ.get("LLAMA_CPP_DIR"), DEFAULT_DIR]):
        for folder in (Path(base) / "bin", Path(base)):
            if not all(os.access(folder / name, os.X_OK) for name in ("llama-bench", "llama-server")):
                continue
            probe = [str(folder / "llama-bench"), "-m", str(gguf), "-p", "0", "-n", "1", "-r", "1", "-t", "1"]
            try:
                rc = subprocess.run(probe, capture_output=True, timeout=120, check=False).returncode
            except (OSError, subprocess.TimeoutExpired) as e:
                rc = str(e)
            if rc == 0:
                return folder, why
            why.append(f"{folder}/llama-bench failed ({'SIGILL: rebuild with build.sh' if rc == -4 else rc})")
    return None, why or [f"no llama-bench/llama-server in $LLAMA_CPP_DIR or {DEFAULT_DIR}"]


def decode_tok_s(bin_dir: Path, gguf: Path, threads: int, tokens: int = 128, repeats: int = 3) -> dict:
    """llama-bench's prompt (prefill) and generation (batch-1 decode) tokens/s."""
    cmd = [str(bin_dir / "llama-bench"), "-m", str(gguf), "-t", str(threads), "-p", str(tokens),
           "-n", str(tokens), "-r", str(repeats), "-o", "json"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=900, check=True).stdout
    runs = json.loads(out)
    gen = next(r for r in runs if r["n_gen"] > 0 and r["n_prompt"] == 0)
    pp = next(r for r in runs if r["n_prompt"] > 0 and r["n_gen"] == 0)
    return {"decode_tok_s": gen["avg_ts"], "prefill_tok_s": pp["avg_ts"], "version": gen.get("build_commit")}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A llama-server process for the duration of a `with` block, killed (with its process
    group) however the block ends."""

    def __init__(self, bin_dir: Path, gguf: Path, threads: int, slots: int, context: int):
        self.port = _free_port()
        self.cmd = [str(bin_dir / "llama-server"), "-m", str(gguf), "-t", str(threads),
                    "-np", str(slots), "-c", str(context), "--host", "127.0.0.1", "--port", str(self.port)]
        self.url = f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Server:
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(self.cmd, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        try:
            self._wait_healthy()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _wait_healthy(self, timeout: float = 180) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                self.log.seek(0)
                raise RuntimeError(f"llama-server exited ({self.proc.returncode}): "
                                   f"{self.log.read()[-2000:].decode(errors='replace')}")
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=2) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.25)
        raise TimeoutError(f"llama-server not healthy after {timeout:.0f} s")

    def __exit__(self, *exc) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()

    def complete(self, prompt: str, n: int, t0: float) -> dict:
        """One streamed greedy completion of exactly n tokens; times from t0 (perf_counter)."""
        # cache_prompt off: a slot would otherwise reuse the same prompt's keys from the last
        # round and skip its prefill (our engine keeps no prompt cache).
        body = json.dumps({"prompt": prompt, "n_predict": n, "temperature": 0, "ignore_eos": True,
                           "stream": True, "cache_prompt": False}).encode()
        req = urllib.request.Request(self.url + "/completion", body, {"Content-Type": "application/json"})
        first, tokens = None, 0
        with urllib.request.urlopen(req, timeout=600) as r:
            for line in r:
                if not line.startswith(b"data: "):
                    continue
                event = json.loads(line[6:])
                if event.get("content") and first is None:
                    first = time.perf_counter()
                if event.get("stop"):
                    tokens = event.get("tokens_predicted", tokens)
                    break
                tokens += 1
        now = time.perf_counter()
        return {"ttft": (first or now) - t0, "latency": now - t0, "tokens": tokens}

    def round(self, prompts: list[str], n: int) -> dict:
        """All prompts at once, one thread each: aggregate tokens/s, TTFTs and latencies."""
        results: list[dict | Exception] = [None] * len(prompts)  # type: ignore[list-item]

        def one(i: int) -> None:
            try:
                results[i] = self.complete(prompts[i], n, t0)
            except Exception as e:  # noqa: BLE001 - reported below, after every thread ends
                results[i] = e

        threads = [threading.Thread(target=one, args=(i,)) for i in range(len(prompts))]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
        failed = [r for r in results if isinstance(r, Exception)]
        if failed:
            raise RuntimeError(f"llama-server: {len(failed)} requests failed: {failed[0]}")
        return {"tok_s": sum(r["tokens"] for r in results) / wall,
                "ttft": [r["ttft"] for r in results], "latency": [r["latency"] for r in results]}


def serving(bin_dir: Path, gguf: Path, threads: int, prompts: list[str], n: int, repeats: int,
            context: int = 16384) -> list[dict]:
    """`repeats` rounds of the prompts against one llama-server with a slot per prompt."""
    with Server(bin_dir, gguf, threads, len(prompts), context) as server:
        server.round(prompts, 8)  # warm up every slot
        return [server.round(prompts, n) for _ in range(repeats)]
