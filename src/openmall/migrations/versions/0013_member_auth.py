"""member auth: token families with their login time; login ids and emails in one normal form

Member tokens gain ``family_id`` (a login starts a family, its refreshes continue it; a replayed refresh
token revokes the family) and ``authenticated_at`` (when the password or OpenID login happened; a refresh
copies it, so a refreshed token is never a fresh login). Tokens issued before this revision each form their
own family and have no known login time (NULL): they never count as a fresh login, withdrawal asks them for
the password.

Member ids, member emails, developer emails and operator login ids are rewritten to the normal form that
``openmall.kernel.identifiers`` gives at sign-up and login (NFKC, case-folded, stripped), so that ``Case123``
is found as ``case123``. A copy of that rule is kept here (a migration does not change when the code does).
Rows are left as they are, and keep working by their exact value, when:
- the normal form is taken already in the same scope (member ids and operator login ids per mall, developer
  emails platform-wide): both accounts are kept, the older form stays reachable by its exact id; an
  operator may merge or remove one of them by hand;
- the value holds an invisible character (zero-width, bidi control, ...): new sign-ups refuse those.
The existing unique constraints (mall_id, member_id), (mall_id, login_id) and (email) now hold the normal form,
so no new index is needed. The downgrade drops the token columns; the rewritten values stay rewritten.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 22:20:00
"""

import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_REFUSED = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
_IGNORABLE = (
    (0x034F, 0x034F), (0x115F, 0x1160), (0x17B4, 0x17B5), (0x180B, 0x180F), (0x2800, 0x2800), (0x3164, 0x3164),
    (0xFE00, 0xFE0F), (0xFFA0, 0xFFA0), (0x1D173, 0x1D17A), (0xE0000, 0xE0FFF),
)  # fmt: skip


def _normal(value: str) -> str | None:
    """The normal form at this revision, or None when the value holds an invisible character."""
    text = unicodedata.normalize("NFKC", value)
    for ch in value + text:
        category, code = unicodedata.category(ch), ord(ch)
        if category in _REFUSED or (category == "Zs" and ch != " ") or any(a <= code <= b for a, b in _IGNORABLE):
            return None
    return unicodedata.normalize("NFKC", text.casefold()).strip()


def _normalise(bind: sa.Connection, table: str, key: str, column: str, scope: str | None, unique: bool) -> None:
    """Rewrites ``column`` of ``table`` to its normal form, oldest row first; with ``unique``, a row whose
    normal form is taken in its scope keeps its value."""
    scope_sql = scope or "''"
    rows = bind.execute(sa.text(
        f"SELECT {key}, {scope_sql}, {column} FROM {table} WHERE {column} IS NOT NULL ORDER BY {key}"
    )).all()  # fmt: skip
    taken = {(row[1], row[2]) for row in rows}
    for number, where, value in rows:
        normal = _normal(value)
        if normal is None or normal == value:
            continue
        if unique:
            if (where, normal) in taken:
                continue
            taken.add((where, normal))
        bind.execute(sa.text(f"UPDATE {table} SET {column} = :v WHERE {key} = :k"), {"v": normal, "k": number})


def upgrade() -> None:
    bind = op.get_bind()
    with op.batch_alter_table("member_tokens", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.add_column(sa.Column("family_id", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("authenticated_at", sa.DateTime(timezone=True), nullable=True))
    bind.execute(sa.text("UPDATE member_tokens SET family_id = 't' || CAST(token_no AS VARCHAR(20))"))
    with op.batch_alter_table("member_tokens", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.alter_column("family_id", existing_type=sa.String(length=32), nullable=False)
        batch.create_index("ix_member_tokens_family", ["family_id"], unique=False)

    _normalise(bind, "members", "member_no", "member_id", "mall_id", unique=True)
    _normalise(bind, "members", "member_no", "email", None, unique=False)
    _normalise(bind, "developers", "developer_no", "email", None, unique=True)
    _normalise(bind, "operators", "operator_no", "login_id", "mall_id", unique=True)


def downgrade() -> None:
    with op.batch_alter_table("member_tokens", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.drop_index("ix_member_tokens_family")
        batch.drop_column("authenticated_at")
        batch.drop_column("family_id")
