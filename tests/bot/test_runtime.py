"""The runtime's order: features load in order and stop in reverse; jobs stop before the
database closes; a bad feature list is one line."""

import asyncio

import pytest

from bot.core.feature import Feature, FeatureError, Features, load_features
from bot.core.jobs import Job, Jobs
from bot.runtime import Runtime, make_services
from bot.store import Database
from tests.bot.harness import RecordingPoster, settings


class ClosedModel:
    context_window = 256

    async def close(self, drain_timeout=10.0):
        pass


async def test_shutdown_stops_features_in_reverse_then_jobs_before_the_database(tmp_path):
    db = await Database.open(tmp_path / "bot.db")
    services = make_services(settings(), db, ClosedModel(), RecordingPoster(), bot_user_id=1,
                             bot_name="bot")
    order = []
    running = asyncio.Event()

    async def job():
        running.set()
        try:
            await asyncio.Event().wait()
        finally:  # a job's last write on cancellation must still reach the database
            await db.write("INSERT INTO guild_settings (guild_id, updated_at) VALUES (9, 0)")
            order.append("job cancelled")

    def stopper(name):
        async def stop():
            order.append(f"stop {name}")
        return stop

    features = Features([Feature("first", stop=stopper("first"), jobs=(Job("tick", job),)),
                         Feature("second", stop=stopper("second"))])
    jobs = Jobs()
    jobs.start(features.features[0].jobs[0])
    await running.wait()
    await Runtime(services=services, features=features, jobs=jobs).close()
    assert order == ["stop second", "stop first", "job cancelled"]
    reopened = await Database.open(tmp_path / "bot.db")
    assert await reopened.fetchone("SELECT guild_id FROM guild_settings") is not None
    await reopened.close()


async def test_feature_lists_are_checked(db):
    services = make_services(settings(), db, ClosedModel(), RecordingPoster(), bot_user_id=1,
                             bot_name="bot")
    with pytest.raises(FeatureError, match="FEATURES: no feature called 'nope'"):
        load_features(["archive", "nope"], services)
    with pytest.raises(FeatureError, match="FEATURES: chat needs archive loaded before it"):
        load_features(["chat"], services)
    with pytest.raises(FeatureError, match="FEATURES: privacy must come before archive"):
        load_features(["archive", "privacy"], make_services(
            settings(), db, ClosedModel(), RecordingPoster(), bot_user_id=1, bot_name="bot"))


def test_two_features_cannot_declare_one_command():
    from bot.core.commands import Command

    async def handler(inv):
        raise AssertionError

    one = Command("memory", "x", handler)
    with pytest.raises(FeatureError, match="/memory is declared twice"):
        Features([Feature("a", commands=(one,)), Feature("b", commands=(one,))])
    with pytest.raises(FeatureError, match="/mod is both a command and a command group"):
        Features([Feature("a", commands=(Command("mod", "x", handler),
                                         Command("warn", "x", handler, group="mod")))])
