"""Start-up and shutdown shared by both adapters: database, model, features, jobs.

One place decides the order, so the console and Discord cannot drift apart.

Up: open the database (applying migrations) first, so a corrupt or locked file is
reported at once rather than after the model's load; load the model off the event loop;
set up the configured features in order and wire them into the pipeline; start their
background jobs.

Down: stop taking messages; stop features in reverse order (chat lets answers in progress
finish); cancel and await the jobs; drain the model; flush the archive; close the
database last, so nothing still running can write to a closed database.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.config import Settings
from bot.core.addressing import Addressing
from bot.core.feature import Features, Services, load_features
from bot.core.guilds import GuildSettings
from bot.core.jobs import Job, Jobs
from bot.core.members import MemberActions, NoMemberActions
from bot.core.pipeline import Pipeline
from bot.core.posting import Poster
from bot.model import ChatModel, LocalModel
from bot.store import Archive, ArchiveWriter, Database
from bot.switch import ModelSlot, switch_job

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    services: Services
    features: Features
    jobs: Jobs

    @property
    def pipeline(self) -> Pipeline:
        return self.services.pipeline

    @property
    def db(self) -> Database:
        return self.services.db

    async def close(self) -> None:
        """Finish what is in flight, then release everything; call once."""
        services = self.services
        services.pipeline.close()
        try:
            await self.features.stop()
            await self.jobs.close()
            try:
                await services.model.close()
            finally:  # the archive's buffered rows are written even if the model failed
                await services.writer.close()
        finally:
            await services.db.close()
        log.info("shut down cleanly")


async def open_database(settings: Settings) -> Database:
    db = await Database.open(settings.database_path)
    if db.applied:
        log.info("database %s: applied migrations %s", settings.database_path, db.applied)
    return db


async def load_model(model_dir: Path, template: str | None = None) -> ModelSlot:
    """The model in a ``ModelSlot``, so ``model use`` can swap it while the bot runs
    (``bot.switch``)."""
    return ModelSlot(await load_engine(model_dir, template), Path(model_dir))


async def load_engine(model_dir: Path, template: str | None = None) -> LocalModel:
    """Start the model's engine on a thread: its worker loads hundreds of MB, and waiting
    for that must not stall the loop.

    A thread cannot be interrupted, so a cancellation (Ctrl-C during start-up) waits for
    the load to end and then closes the model: no engine worker outlives the bot.
    """
    log.info("loading the model from %s", model_dir)
    task = asyncio.ensure_future(asyncio.to_thread(LocalModel.load, model_dir, template=template))
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await (await task).close()
        raise


def make_services(settings: Settings, db: Database, model: ChatModel, poster: Poster, *,
                  bot_user_id: int, bot_name: str, members: MemberActions | None = None,
                  classifier: Callable[[], Any] | None = None) -> Services:
    """The shared services every feature's ``setup`` receives."""
    archive = Archive(db)
    writer = ArchiveWriter(archive)
    guilds = GuildSettings(db, settings)
    pipeline = Pipeline(Addressing(guilds=guilds, archive=archive, writer=writer,
                                   answer_channels=settings.answer_channels,
                                   bot_user_id=bot_user_id))
    return Services(settings=settings, db=db, archive=archive, writer=writer, model=model,
                    guilds=guilds, pipeline=pipeline, poster=poster,
                    bot_user_id=bot_user_id, bot_name=bot_name,
                    members=members or NoMemberActions(), classifier=classifier)


async def start(settings: Settings, db: Database, model: ChatModel, poster: Poster, *,
                bot_user_id: int, bot_name: str, members: MemberActions | None = None,
                classifier: Callable[[], Any] | None = None) -> Runtime:
    """Set up the features over an open database and a started model. On failure nothing
    is closed here: the caller owns ``db`` and ``model`` until this returns."""
    services = make_services(settings, db, model, poster, bot_user_id=bot_user_id,
                             bot_name=bot_name, members=members, classifier=classifier)
    writer = services.writer
    try:
        await services.guilds.load_timezones()
        features = load_features(settings.features, services)
    except BaseException:
        await writer.close()
        raise
    jobs = Jobs()
    for feature in features.features:
        for job in feature.jobs:
            jobs.start(job)
    if isinstance(model, ModelSlot):
        load = functools.partial(load_engine, template=settings.model_template)
        jobs.start(Job("model-switch", switch_job(model, db, load)))
    return Runtime(services=services, features=features, jobs=jobs)
