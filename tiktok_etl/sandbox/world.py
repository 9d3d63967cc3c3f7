"""The sandbox's synthetic TikTok: deterministic accounts, videos and comments.

Any `open_id` is a valid account. Its data is a pure function of `(seed, open_id, day)`, so
two processes that build a `SandboxWorld` with the same options see identical records
(Dagster runs each step in its own process, each may build its own in-process sandbox).
Only records with `create_time <= now` (the injected clock) are visible, and metrics grow
with `now - create_time`, so reading later sees moved numbers.

Counting rule: a video's `comment_count` (Display) and `comments` (Business) is the number
of visible comments on it, top-level comments *plus* replies.

Comments created or deleted through the Business API live in this object's memory only
(one process); the generated base never changes.

Generation is lazy (one UTC day of one account at a time) and cached per instance in
bounded LRU caches. No I/O, no global state.
"""

from __future__ import annotations

import bisect
import dataclasses
import functools
import hashlib
import itertools
import random
import threading
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from tiktok_etl.sandbox import records, texts
from tiktok_etl.sandbox.clock import NowSource, as_utc, as_utc_datetime, utc_now
from tiktok_etl.sandbox.records import (
    DAY,
    MALFORMED_KINDS,
    AccountRecord,
    CommentRecord,
    VideoRecord,
)


def stable_int(*parts: object) -> int:
    """A 64-bit integer from `parts`, identical in every process (unlike `hash()`)."""
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def _rng(*parts: object) -> random.Random:
    return random.Random(stable_int(*parts))


def snowflake(create_time: int, *salt: object) -> str:
    """A TikTok-like 19-digit id: the creation second in the high bits, like TikTok's ids."""
    return str((create_time << 32) | (stable_int(*salt) & 0xFFFF_FFFF))


def _epoch_day(day: date) -> int:
    return int(as_utc_datetime(day).timestamp()) // DAY


def id_time(item_id: str) -> int | None:
    """The creation second encoded in a sandbox id, or None if it is not one."""
    try:
        return int(item_id) >> 32
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True, slots=True)
class CommentSlot:
    """Where a generated comment sits: its id and time, before its content is generated."""

    comment_id: str
    create_time: int
    position: str
    parent_comment_id: str | None
    pinned: bool


@dataclass(frozen=True, slots=True)
class VideoComments:
    """Every generated comment slot of one video (visible or not yet), sorted by time."""

    slots: tuple[CommentSlot, ...]
    times: tuple[int, ...]


class SandboxWorld:
    """Deterministic synthetic TikTok data for any number of accounts.

    Example::

        world = SandboxWorld(seed=7, clock=SandboxClock(datetime(2026, 11, 5, tzinfo=UTC)))
        world.videos("acct-1", date(2026, 11, 4))      # Display-shape videos of that UTC day
        world.comments("acct-1", date(2026, 11, 4))    # comments written that day, replies too

    Options size the world: `videos_per_day` and `comments_per_video` are inclusive ranges,
    `heavy_video_ratio` of videos get `heavy_comments` top-level comments instead,
    `reply_ratio` of comments get `replies_per_comment` replies, comments arrive up to
    `comment_max_age_days` after their video, `boundary_ratio` of timestamps sit exactly on
    00:00:00 or 23:59:59 UTC, and `malformed_ratio` of videos and comments are served broken
    (missing id or `create_time: "not-a-time"`) to exercise a rejects path.
    """

    def __init__(
        self,
        seed: int = 7,
        clock: NowSource | None = None,
        *,
        history_days: int = 400,
        videos_per_day: tuple[int, int] = (0, 6),
        comments_per_video: tuple[int, int] = (0, 20),
        heavy_video_ratio: float = 0.03,
        heavy_comments: tuple[int, int] = (300, 700),
        reply_ratio: float = 0.2,
        replies_per_comment: tuple[int, int] = (1, 5),
        comment_max_age_days: int = 45,
        boundary_ratio: float = 0.08,
        malformed_ratio: float = 0.0,
        cache_size: int = 16_384,
    ) -> None:
        self.seed = seed
        self.clock: NowSource = clock or utc_now
        self.history_days = history_days
        self.videos_per_day = videos_per_day
        self.comments_per_video = comments_per_video
        self.heavy_video_ratio = heavy_video_ratio
        self.heavy_comments = heavy_comments
        self.reply_ratio = reply_ratio
        self.replies_per_comment = replies_per_comment
        self.comment_max_age = comment_max_age_days * DAY
        self.boundary_ratio = boundary_ratio
        self.malformed_ratio = malformed_ratio
        self._day_videos = functools.lru_cache(maxsize=cache_size)(self._generate_day)
        self._video_slots = functools.lru_cache(maxsize=cache_size)(self._comment_slots)
        self._video_comments = functools.lru_cache(maxsize=cache_size // 8)(self._generate_comments)
        self._account = functools.lru_cache(maxsize=1024)(self._generate_account)
        self._lock = threading.Lock()
        self._created: dict[str, list[CommentRecord]] = {}
        self._deleted: dict[str, set[str]] = {}
        self._hidden: set[str] = set()
        self._created_ids = itertools.count(1)
        # videos posted through the Content Posting API, per (open_id, day)
        self._published: dict[tuple[str, int], list[VideoRecord]] = {}
        self._published_lock = threading.Lock()

    # time

    def now(self) -> int:
        """The clock, in Unix seconds."""
        return int(as_utc(self.clock()).timestamp())

    def first_day(self, now: int) -> int:
        """The oldest UTC day (days since the epoch) that has data."""
        return now // DAY - self.history_days

    # generation

    def account(self, open_id: str) -> AccountRecord:
        return self._account(open_id)

    def _generate_account(self, open_id: str) -> AccountRecord:
        rng = _rng(self.seed, "account", open_id)
        handle = texts.handle(rng).replace(".", "_")
        return AccountRecord(
            open_id=open_id,
            union_id=str(
                uuid.UUID(
                    int=stable_int(self.seed, "union", open_id) << 64
                    | stable_int(self.seed, "union-low", open_id)
                )
            ),
            username=f"{handle}_{stable_int(open_id) % 1000}",
            display_name=rng.choice(texts.DISPLAY_NAMES),
            bio_description=rng.choice(texts.BIOS),
            avatar_key=hashlib.sha1(f"{self.seed}:{open_id}".encode()).hexdigest(),
            is_verified=rng.random() < 0.2,
            base_followers=int(rng.lognormvariate(8, 1.5)),
            followers_per_day=round(rng.uniform(0.5, 40.0), 3),
            following_count=rng.randint(0, 900),
        )

    def _day_seconds(self, rng: random.Random, count: int) -> list[int]:
        """`count` distinct seconds of a day, some exactly at 00:00:00 or 23:59:59."""
        seconds: set[int] = set()
        for _ in range(count):
            roll = rng.random()
            if roll < self.boundary_ratio / 2 and 0 not in seconds:
                seconds.add(0)
            elif roll < self.boundary_ratio and DAY - 1 not in seconds:
                seconds.add(DAY - 1)
            else:
                second = rng.randrange(1, DAY - 1)
                while second in seconds:
                    second = rng.randrange(1, DAY - 1)
                seconds.add(second)
        return sorted(seconds)

    def _generate_day(self, open_id: str, day: int) -> tuple[VideoRecord, ...]:
        rng = _rng(self.seed, "day", open_id, day)
        count = rng.randint(*self.videos_per_day)
        return tuple(
            self._generate_video(open_id, day * DAY + second)
            for second in self._day_seconds(rng, count)
        )

    def _generate_video(self, open_id: str, create_time: int) -> VideoRecord:
        rng = _rng(self.seed, "video", open_id, create_time)
        heavy = rng.random() < self.heavy_video_ratio
        comments_range = self.heavy_comments if heavy else self.comments_per_video
        caption = texts.caption(rng)
        portrait = rng.random() < 0.85
        impressions = [rng.random() ** 2 for _ in range(4)]
        countries = [rng.random() ** 3 for _ in range(5)]
        return VideoRecord(
            open_id=open_id,
            video_id=snowflake(create_time, self.seed, open_id, "video"),
            create_time=create_time,
            caption=caption,
            title=texts.title(rng, caption),
            duration=rng.choice((5, 9, 15, 21, 30, 45, 60, 90, 180)),
            width=1080 if portrait else 1920,
            height=1920 if portrait else 1080,
            view_potential=int(rng.lognormvariate(8.5, 1.6)) + (150_000 if heavy else 0),
            like_rate=round(rng.uniform(0.01, 0.12), 4),
            share_rate=round(rng.uniform(0.0005, 0.01), 5),
            reach_ratio=round(rng.uniform(0.55, 0.9), 3),
            watch_rate=round(rng.uniform(0.1, 0.6), 4),
            watch_fraction=round(rng.uniform(0.2, 0.9), 3),
            top_comments=rng.randint(*comments_range),
            heavy=heavy,
            is_aigc=rng.random() < 0.05,
            impression_mix=tuple(round(w / sum(impressions), 3) for w in impressions),
            country_mix=tuple(round(w / sum(countries), 3) for w in countries),
            malformed=self._malformation(rng),
        )

    def _malformation(self, rng: random.Random) -> str | None:
        if self.malformed_ratio and rng.random() < self.malformed_ratio:
            return rng.choice(MALFORMED_KINDS)
        return None

    def _comment_delay(self, rng: random.Random, scale: float = 1.0) -> int:
        """Seconds after the video: most within days, some weeks later (comments on old videos)."""
        roll = rng.random()
        if roll < 0.55:
            delay = rng.randint(30, 36 * 3600)
        elif roll < 0.9:
            delay = rng.randint(36 * 3600, 14 * DAY)
        else:
            delay = rng.randint(14 * DAY, max(14 * DAY, self.comment_max_age))
        return int(delay * scale)

    def _snap_to_boundary(self, rng: random.Random, moment: int, low: int, high: int) -> int:
        if rng.random() >= self.boundary_ratio:
            return moment
        day_start = moment - moment % DAY
        for candidate in (day_start, day_start + DAY - 1):
            if low <= candidate <= high:
                return candidate
        return moment

    def _comment_slots(self, video: VideoRecord) -> VideoComments:
        """When each comment and reply of `video` is written: cheap, enough for counting."""
        rng = _rng(self.seed, "comments", video.video_id)
        latest = video.create_time + self.comment_max_age
        pinned_index = (
            rng.randrange(video.top_comments) if video.top_comments and rng.random() < 0.2 else -1
        )
        slots: list[CommentSlot] = []
        low, high = self.replies_per_comment
        for index in range(video.top_comments):
            moment = min(latest, video.create_time + self._comment_delay(rng))
            moment = self._snap_to_boundary(rng, moment, video.create_time, latest)
            top = CommentSlot(
                comment_id=snowflake(moment, self.seed, video.video_id, index),
                create_time=moment,
                position=str(index),
                parent_comment_id=None,
                pinned=index == pinned_index,
            )
            slots.append(top)
            if rng.random() >= self.reply_ratio:
                continue
            for reply_index in range(rng.randint(low, high * (3 if video.heavy else 1))):
                reply_time = min(latest, moment + self._comment_delay(rng, scale=0.25))
                reply_time = self._snap_to_boundary(rng, reply_time, moment, latest)
                position = f"{index}.{reply_index}"
                slots.append(
                    CommentSlot(
                        comment_id=snowflake(reply_time, self.seed, video.video_id, position),
                        create_time=reply_time,
                        position=position,
                        parent_comment_id=top.comment_id,
                        pinned=False,
                    )
                )
        slots.sort(key=lambda slot: (slot.create_time, slot.comment_id))
        return VideoComments(tuple(slots), tuple(slot.create_time for slot in slots))

    def _generate_comments(self, video: VideoRecord) -> tuple[CommentRecord, ...]:
        """The full comments of `video`, in the order of its slots."""
        account = self.account(video.open_id)
        return tuple(
            self._comment(video, slot, account) for slot in self._comment_slots(video).slots
        )

    def _comment(
        self, video: VideoRecord, slot: CommentSlot, account: AccountRecord
    ) -> CommentRecord:
        rng = _rng(self.seed, "comment", video.video_id, slot.position)
        is_reply = slot.parent_comment_id is not None
        owner = is_reply and rng.random() < 0.15
        text = texts.reply_text(rng) if is_reply else texts.comment_text(rng)
        username = account.username if owner else texts.handle(rng)
        identity = hashlib.sha256(f"{self.seed}:{username}".encode()).hexdigest()
        return CommentRecord(
            comment_id=slot.comment_id,
            video_id=video.video_id,
            parent_comment_id=slot.parent_comment_id,
            create_time=slot.create_time,
            text=text,
            username=username,
            unique_identifier=identity,
            profile_image=(
                f"https://p16-sign-sg.tiktokcdn.com/tiktok-obj/{identity[:16]}~c5_168x168.jpeg"
            ),
            like_potential=int(rng.paretovariate(1.6)) - 1,
            owner=owner,
            liked=rng.random() < 0.05,
            pinned=slot.pinned,
            malformed=self._malformation(rng),
        )

    # videos

    def _videos_of_day(self, open_id: str, day: int) -> tuple[VideoRecord, ...]:
        """The generated videos of the day, with any posted through the API, by time."""
        generated = self._day_videos(open_id, day)
        with self._published_lock:
            posted = tuple(self._published.get((open_id, day), ()))
        if not posted:
            return generated
        return tuple(sorted((*generated, *posted), key=lambda v: v.create_time))

    def publish_video(self, open_id: str, create_time: int, title: str) -> VideoRecord:
        """Add a video posted through the Content Posting API; it is listed from then on."""
        generated = self._generate_video(open_id, create_time)
        video = dataclasses.replace(
            generated,
            video_id=snowflake(create_time, self.seed, open_id, "posted", title),
            caption=title,
            title=title[:150],
            top_comments=0,
            malformed=None,
        )
        with self._published_lock:
            self._published.setdefault((open_id, create_time // DAY), []).append(video)
        return video

    def _days_desc(self, open_id: str, newest_day: int, now: int) -> Iterator[VideoRecord]:
        for day in range(newest_day, self.first_day(now) - 1, -1):
            yield from reversed(self._videos_of_day(open_id, day))

    def iter_videos_desc(self, open_id: str, before: int, now: int) -> Iterator[VideoRecord]:
        """Visible videos with `create_time < before`, newest first."""
        newest = min(before - 1, now)
        for video in self._days_desc(open_id, newest // DAY, now):
            if video.create_time <= newest:
                yield video

    def visible_videos(self, open_id: str, start: int, end: int, now: int) -> list[VideoRecord]:
        """Visible videos with `start <= create_time < end`, oldest first."""
        first = max(start // DAY, self.first_day(now))
        last = min(end - 1, now) // DAY
        found: list[VideoRecord] = []
        for day in range(first, last + 1):
            found.extend(
                video
                for video in self._videos_of_day(open_id, day)
                if start <= video.create_time < end and video.create_time <= now
            )
        return found

    def find_video(self, open_id: str, video_id: str, now: int) -> VideoRecord | None:
        """The visible video `video_id` of `open_id`, or None."""
        moment = id_time(video_id)
        if moment is None or moment > now or moment // DAY < self.first_day(now):
            return None
        for video in self._videos_of_day(open_id, moment // DAY):
            if video.video_id == video_id:
                return video
        return None

    # comments

    def visible_comments(self, video: VideoRecord, now: int) -> list[CommentRecord]:
        """Visible comments and replies of `video`, oldest first, with API-created ones."""
        visible = list(
            self._video_comments(video)[: bisect.bisect_right(self._video_slots(video).times, now)]
        )
        with self._lock:
            created = list(self._created.get(video.video_id, ()))
            deleted = set(self._deleted.get(video.video_id, ()))
        if created:
            visible.extend(comment for comment in created if comment.create_time <= now)
            visible.sort(key=lambda comment: (comment.create_time, comment.comment_id))
        if deleted:
            visible = [
                comment
                for comment in visible
                if comment.comment_id not in deleted and comment.parent_comment_id not in deleted
            ]
        return visible

    def comment_count(self, video: VideoRecord, now: int) -> int:
        """Visible top-level comments plus replies."""
        with self._lock:
            touched = video.video_id in self._created or video.video_id in self._deleted
        if touched:
            return len(self.visible_comments(video, now))
        return bisect.bisect_right(self._video_slots(video).times, now)

    def render_comments(
        self, video: VideoRecord, chosen: Sequence[CommentRecord], now: int
    ) -> list[dict[str, Any]]:
        """Business-shape comments; top-level `replies` counts visible replies."""
        replies = Counter(
            comment.parent_comment_id
            for comment in self.visible_comments(video, now)
            if comment.parent_comment_id
        )
        with self._lock:
            hidden = set(self._hidden)
        rendered = [
            records.business_comment(comment, now, replies[comment.comment_id])
            for comment in chosen
        ]
        for record in rendered:
            if record.get("comment_id") in hidden:
                record["status"] = "HIDDEN"
        return rendered

    def set_hidden(self, comment_id: str, hidden: bool) -> None:
        """Hide a comment from everyone but its author (`comment/hide/`), or show it again."""
        with self._lock:
            if hidden:
                self._hidden.add(comment_id)
            else:
                self._hidden.discard(comment_id)

    def is_hidden(self, comment_id: str) -> bool:
        with self._lock:
            return comment_id in self._hidden

    def find_comment(
        self, open_id: str, comment_id: str, now: int
    ) -> tuple[VideoRecord, CommentRecord] | None:
        """A visible comment of one of `open_id`'s videos, searched by the time in its id."""
        moment = id_time(comment_id)
        if moment is None:
            return None
        start = moment - self.comment_max_age
        with self._lock:
            created_on = [
                vid
                for vid, items in self._created.items()
                if any(c.comment_id == comment_id for c in items)
            ]
        candidates = self.visible_videos(open_id, start, moment + 1, now)
        candidates.extend(
            video for vid in created_on if (video := self.find_video(open_id, vid, now)) is not None
        )
        for video in candidates:
            slots = self._video_slots(video).slots
            if video.video_id in created_on or any(s.comment_id == comment_id for s in slots):
                for comment in self.visible_comments(video, now):
                    if comment.comment_id == comment_id:
                        return video, comment
        return None

    def create_comment(
        self, video: VideoRecord, text: str, now: int, parent: CommentRecord | None = None
    ) -> CommentRecord:
        """A comment (or reply) by the account owner, kept in this process's memory."""
        account = self.account(video.open_id)
        identity = hashlib.sha256(f"{self.seed}:{account.username}".encode()).hexdigest()
        comment = CommentRecord(
            comment_id=snowflake(now, "created", video.video_id, next(self._created_ids)),
            video_id=video.video_id,
            parent_comment_id=parent.comment_id if parent else None,
            create_time=now,
            text=text,
            username=account.username,
            unique_identifier=identity,
            profile_image=records.avatar_url(account),
            like_potential=0,
            owner=True,
            liked=False,
            pinned=False,
            malformed=None,
        )
        with self._lock:
            self._created.setdefault(video.video_id, []).append(comment)
        return comment

    def delete_comment(self, video: VideoRecord, comment: CommentRecord) -> None:
        with self._lock:
            self._deleted.setdefault(video.video_id, set()).add(comment.comment_id)

    # accounts

    def user_stats(self, open_id: str, now: int) -> tuple[int, int]:
        """(likes_count, video_count) over the account's visible videos."""
        videos = list(self.iter_videos_desc(open_id, now + 1, now))
        likes = sum(records.video_metrics(video, now).likes for video in videos)
        return likes, len(videos)

    def daily_metrics(
        self,
        open_id: str,
        now: int,
        days: int = 60,
        *,
        start: date | None = None,
        end: date | None = None,
    ) -> list[dict[str, Any]]:
        """`business/get/` daily metrics, oldest first: the last `days` complete UTC days,
        narrowed to `start <= date <= end` when given (like TikTok, nothing older is kept)."""
        account = self.account(open_id)
        today = now // DAY
        first, last = today - days, today - 1
        if start is not None:
            first = max(first, _epoch_day(start))
        if end is not None:
            last = min(last, _epoch_day(end))
        rows = []
        for day in range(first, last + 1):
            rng = _rng(self.seed, "daily", open_id, day)
            rows.append(
                {
                    "date": datetime.fromtimestamp(day * DAY, UTC).date().isoformat(),
                    "followers_count": records.follower_count(account, (day + 1) * DAY - 1),
                    "profile_views": rng.randint(0, 5_000),
                    "video_views": rng.randint(0, 200_000),
                    "likes": rng.randint(0, 20_000),
                    "comments": rng.randint(0, 2_000),
                    "shares": rng.randint(0, 1_000),
                }
            )
        return rows

    # truth for tests and benchmarks: what the API serves, read straight from the world

    def _window(self, start: date | datetime, end: date | datetime | None) -> tuple[int, int]:
        begin = as_utc_datetime(start)
        finish = as_utc_datetime(end) if end is not None else None
        start_ts = int(begin.timestamp())
        end_ts = int(finish.timestamp()) if finish is not None else start_ts + DAY
        return start_ts, end_ts

    def videos(
        self, open_id: str, start: date | datetime, end: date | datetime | None = None
    ) -> list[dict[str, Any]]:
        """Display-shape videos with `start <= create_time < end`, oldest first.

        A date means its UTC midnight; without `end` the window is the one UTC day `start`.
        """
        now = self.now()
        account = self.account(open_id)
        return [
            records.display_video(video, account, now, self.comment_count(video, now))
            for video in self.visible_videos(open_id, *self._window(start, end), now)
        ]

    def business_videos(
        self, open_id: str, start: date | datetime, end: date | datetime | None = None
    ) -> list[dict[str, Any]]:
        """Business-shape videos (default fields) in the window, oldest first."""
        now = self.now()
        account = self.account(open_id)
        return [
            records.business_video(video, account, now, self.comment_count(video, now))
            for video in self.visible_videos(open_id, *self._window(start, end), now)
        ]

    def comments(
        self, open_id: str, start: date | datetime, end: date | datetime | None = None
    ) -> list[dict[str, Any]]:
        """Business-shape comments and replies written in the window, on any video, oldest first."""
        now = self.now()
        start_ts, end_ts = self._window(start, end)
        found: list[tuple[int, str, dict[str, Any]]] = []
        for video in self._videos_commented_between(open_id, start_ts, end_ts, now):
            chosen = [
                comment
                for comment in self.visible_comments(video, now)
                if start_ts <= comment.create_time < end_ts
            ]
            rendered = self.render_comments(video, chosen, now)
            found.extend(
                (comment.create_time, comment.comment_id, item)
                for comment, item in zip(chosen, rendered, strict=True)
            )
        found.sort(key=lambda entry: entry[:2])
        return [item for _, _, item in found]

    def _videos_commented_between(
        self, open_id: str, start: int, end: int, now: int
    ) -> list[VideoRecord]:
        videos = self.visible_videos(open_id, start - self.comment_max_age, end, now)
        known = {video.video_id for video in videos}
        with self._lock:
            extra = [vid for vid in self._created if vid not in known]
        videos.extend(
            video for vid in extra if (video := self.find_video(open_id, vid, now)) is not None
        )
        return videos

    def user(self, open_id: str) -> dict[str, Any]:
        """The Display `data.user` object with every field."""
        now = self.now()
        likes, count = self.user_stats(open_id, now)
        return records.display_user(self.account(open_id), now, likes, count)

    def business_account(self, open_id: str) -> dict[str, Any]:
        """The Business `business/get/` data object with the default fields."""
        return records.business_account(self.account(open_id), self.now(), None)
