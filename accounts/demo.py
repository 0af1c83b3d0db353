"""Demo users, one for every role (used by ``seed_demo`` and printed by ``make run``)."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from accounts import services
from accounts.choices import Classification, Role
from accounts.models import User

DEMO_PASSWORD = "lantai-demo"


@dataclass(frozen=True)
class DemoUser:
    username: str
    display_name: str
    roles: tuple[str, ...]
    clearance: int = Classification.NONE


DEMO_USERS = (
    DemoUser("admin", "系统管理员 王磊", (Role.ADMINISTRATOR,), Classification.TOP_SECRET),
    DemoUser("frontdesk", "利用接待 李娜", (Role.FRONT_DESK,)),
    DemoUser("approver", "审批人 张伟", (Role.APPROVER,), Classification.CONFIDENTIAL),
    DemoUser("archivist", "档案员 刘洋", (Role.ARCHIVIST,), Classification.SECRET),
    DemoUser("keeper", "库房管理员 陈静", (Role.KEEPER,)),
    DemoUser("researcher", "研究者 赵敏", (Role.RESEARCHER,)),
)


def seed(*, records: int, out) -> None:
    for demo in DEMO_USERS:
        if User.objects.filter(username=demo.username).exists():
            continue
        user = services.create_user(
            demo.username,
            acting_user=None,
            password=DEMO_PASSWORD,
            roles=[str(r) for r in demo.roles],
            clearance=demo.clearance,
            display_name=demo.display_name,
        )
        if Role.ADMINISTRATOR in demo.roles:
            User.objects.filter(pk=user.pk).update(is_staff=True, is_superuser=True)
    out.write(f"demo users: {len(DEMO_USERS)} (password: {DEMO_PASSWORD})")


def _pad(text: str, width: int) -> str:
    """Left-align for a terminal: CJK characters take two columns."""
    columns = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
    return text + " " * max(0, width - columns)


def logins_table() -> str:
    labels = dict(Role.choices)
    lines = [f"  {_pad('user', 12)} {_pad('role', 22)} password"]
    for demo in DEMO_USERS:
        role = ", ".join(str(labels[r]) for r in demo.roles)
        lines.append(f"  {_pad(demo.username, 12)} {_pad(role, 22)} {DEMO_PASSWORD}")
    return "\n".join(lines)
