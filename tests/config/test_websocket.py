import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from accounts.services import notify_user
from config.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)


def session_cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    name = settings.SESSION_COOKIE_NAME
    return f"{name}={client.cookies[name].value}".encode()


async def connect(path: str, *, origin: bytes = b"http://testserver", cookie: bytes = b""):
    headers = [(b"origin", origin), (b"host", b"testserver")]
    if cookie:
        headers.append((b"cookie", cookie))
    communicator = WebsocketCommunicator(application, path, headers=headers)
    connected, code = await communicator.connect()
    return communicator, connected, code


async def test_foreign_origin_is_refused(front_desk):
    cookie = await sync_to_async(session_cookie)(front_desk)
    communicator, connected, _ = await connect(
        "/ws/notifications/", origin=b"http://evil.example", cookie=cookie
    )
    assert not connected
    await communicator.disconnect()


async def test_anonymous_is_refused(db):
    communicator, connected, code = await connect("/ws/notifications/")
    assert not connected
    assert code == 4401
    await communicator.disconnect()


async def test_signed_in_user_gets_their_own_notices_only(front_desk, keeper):
    cookie = await sync_to_async(session_cookie)(front_desk)
    communicator, connected, _ = await connect("/ws/notifications/", cookie=cookie)
    assert connected
    await sync_to_async(notify_user)(keeper, "test.other", {"n": 0})
    await sync_to_async(notify_user)(front_desk, "test.mine", {"n": 1})
    message = await communicator.receive_json_from(timeout=3)
    assert message == {"type": "test.mine", "payload": {"n": 1}}
    await communicator.send_json_to({"type": "ping"})
    assert await communicator.receive_json_from(timeout=3) == {"type": "pong"}
    await communicator.disconnect()
