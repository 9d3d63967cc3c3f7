"""PostingClient against the documented Content Posting API shapes (respx, no network)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import respx

from tiktok_etl.api import StaticTokenProvider, Transport
from tiktok_etl.api.chunking import MB, plan_chunks
from tiktok_etl.api.errors import ApiError
from tiktok_etl.api.posting import InitResult, PostInfo, PostingClient, PullFromUrl

from .conftest import DISPLAY, display_error, display_ok, sent_json

UPLOAD_URL = "https://open-upload.tiktokapis.com/video/?upload_id=67890&upload_token=Xiq5"


@pytest.fixture
def client(transport: Transport) -> PostingClient:
    return PostingClient(transport, StaticTokenProvider("act.example"), base_url=DISPLAY)


@pytest.fixture
def video(tmp_path: Path) -> Path:
    # the client sends bytes as they are; the header checks live in api.media
    path = tmp_path / "clip.mp4"
    path.write_bytes(bytes(range(256)) * (12 * MB // 256) + b"tail")
    return path


def test_creator_info_is_read_from_the_envelope(
    api: respx.MockRouter, client: PostingClient
) -> None:
    api.post(f"{DISPLAY}/v2/post/publish/creator_info/query/").mock(
        return_value=display_ok(
            {"creator_username": "tiktok", "creator_nickname": "TikTok",
             "privacy_level_options": ["FOLLOWER_OF_CREATOR", "SELF_ONLY"],
             "comment_disabled": False, "duet_disabled": True, "stitch_disabled": False,
             "max_video_post_duration_sec": 300}
        )
    )  # fmt: skip
    info = client.creator_info()
    assert info.privacy_level_options == ("FOLLOWER_OF_CREATOR", "SELF_ONLY")
    assert (info.duet_disabled, info.max_video_post_duration_sec) == (True, 300)


def test_a_direct_post_init_sends_post_info_and_the_chunk_plan(
    api: respx.MockRouter, client: PostingClient
) -> None:
    route = api.post(f"{DISPLAY}/v2/post/publish/video/init/").mock(
        return_value=display_ok({"publish_id": "v_pub_file~v2.1", "upload_url": UPLOAD_URL})
    )
    plan = plan_chunks(50_000_123, 10_000_000)
    init = client.init_direct(
        PostInfo("hi", "SELF_ONLY", disable_duet=True, video_cover_timestamp_ms=1000), plan
    )
    body = sent_json(route.calls.last.request)
    assert body["source_info"] == {"source": "FILE_UPLOAD", "video_size": 50_000_123,
                                   "chunk_size": 10_000_000, "total_chunk_count": 5}  # fmt: skip
    assert body["post_info"]["privacy_level"] == "SELF_ONLY"
    assert body["post_info"]["disable_duet"] is True
    assert body["post_info"]["video_cover_timestamp_ms"] == 1000
    assert route.calls.last.request.headers["authorization"] == "Bearer act.example"
    assert init.publish_id == "v_pub_file~v2.1"
    assert "Xiq5" not in repr(init)


def test_an_inbox_init_sends_source_info_only(api: respx.MockRouter, client: PostingClient) -> None:
    route = api.post(f"{DISPLAY}/v2/post/publish/inbox/video/init/").mock(
        return_value=display_ok({"publish_id": "p1"})
    )
    client.init_inbox(PullFromUrl("https://example.com/v.mp4"))
    assert sent_json(route.calls.last.request) == {
        "source_info": {"source": "PULL_FROM_URL", "video_url": "https://example.com/v.mp4"}
    }


def test_an_init_refused_by_tiktok_is_not_retried(
    api: respx.MockRouter, client: PostingClient
) -> None:
    route = api.post(f"{DISPLAY}/v2/post/publish/video/init/").mock(
        return_value=display_error(403, "spam_risk_too_many_posts")
    )
    with pytest.raises(ApiError) as refused:
        client.init_direct(PostInfo("t", "SELF_ONLY"), plan_chunks(MB))
    assert refused.value.code == "spam_risk_too_many_posts"
    assert route.call_count == 1


def test_chunks_are_put_in_order_with_exact_ranges(
    api: respx.MockRouter, client: PostingClient, video: Path
) -> None:
    size = video.stat().st_size
    plan = plan_chunks(size, 5 * MB)
    assert plan.total_chunk_count == 2
    statuses = iter([206, 201])
    route = api.put(UPLOAD_URL).mock(side_effect=lambda request: httpx.Response(next(statuses)))
    status = client.upload(InitResult("p", UPLOAD_URL), video, plan, "video/mp4")
    assert status == 201
    sent = [call.request for call in route.calls]
    assert [r.headers["content-range"] for r in sent] == [
        f"bytes 0-{5 * MB - 1}/{size}",
        f"bytes {5 * MB}-{size - 1}/{size}",
    ]
    assert [int(r.headers["content-length"]) for r in sent] == [5 * MB, size - 5 * MB]
    assert {r.headers["content-type"] for r in sent} == {"video/mp4"}
    assert b"".join(r.content for r in sent) == video.read_bytes()
    assert "authorization" not in sent[0].headers


def test_a_connection_dropped_mid_chunk_resends_only_that_chunk(
    api: respx.MockRouter, client: PostingClient, video: Path
) -> None:
    size = video.stat().st_size
    plan = plan_chunks(size, 5 * MB)
    answers: list[object] = [
        httpx.Response(206),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
        httpx.Response(201),
    ]

    def answer(request: httpx.Request) -> httpx.Response:
        outcome = answers.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        assert isinstance(outcome, httpx.Response)
        return outcome

    route = api.put(UPLOAD_URL).mock(side_effect=answer)
    assert client.upload(InitResult("p", UPLOAD_URL), video, plan, "video/mp4") == 201
    ranges = [call.request.headers["content-range"] for call in route.calls]
    second = f"bytes {5 * MB}-{size - 1}/{size}"
    assert ranges == [f"bytes 0-{5 * MB - 1}/{size}", second, second]


def test_a_refused_range_fails_at_once(
    api: respx.MockRouter, client: PostingClient, video: Path
) -> None:
    route = api.put(UPLOAD_URL).mock(return_value=display_error(416, "range_not_satisfiable"))
    plan = plan_chunks(video.stat().st_size, 5 * MB)
    with pytest.raises(ApiError) as refused:
        client.upload(InitResult("p", UPLOAD_URL), video, plan, "video/mp4")
    assert (refused.value.http_status, refused.value.code) == (416, "range_not_satisfiable")
    assert route.call_count == 1


def test_status_reads_tiktoks_spelling_of_the_post_ids(
    api: respx.MockRouter, client: PostingClient
) -> None:
    route = api.post(f"{DISPLAY}/v2/post/publish/status/fetch/").mock(
        return_value=display_ok(
            {
                "status": "PUBLISH_COMPLETE",
                "uploaded_bytes": 10,
                "publicaly_available_post_id": [7321],
            }
        )
    )
    status = client.fetch_status("p1")
    assert sent_json(route.calls.last.request) == {"publish_id": "p1"}
    assert (status.status, status.post_ids, status.final) == ("PUBLISH_COMPLETE", ("7321",), True)
