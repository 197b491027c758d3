"""Initial store: targets, scans and what a report holds, attestations, tokens.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _scan_child(name: str, *columns: sa.Column) -> None:
    op.create_table(
        name,
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("scan_id", sa.Integer(), sa.ForeignKey("scans.id", ondelete="CASCADE"), nullable=False),
        *columns,
    )
    op.create_index(f"ix_{name}_scan_id", name, ["scan_id"])


def upgrade() -> None:
    op.create_table(
        "targets",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("name", sa.String(512), nullable=False),
        sa.Column("vendor", sa.String(200)),
        sa.Column("product", sa.String(200)),
        sa.Column("version", sa.String(200)),
        sa.Column("size", sa.Integer()),
        sa.Column("kind", sa.String(40)),
        sa.Column("blob", sa.String(1024)),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_targets_sha256", "targets", ["sha256"], unique=True)
    op.create_index("ix_targets_vendor", "targets", ["vendor"])
    op.create_index("ix_targets_product", "targets", ["product"])
    op.create_table(
        "scans",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("target_id", sa.Integer(), sa.ForeignKey("targets.id", ondelete="CASCADE"), nullable=False),
        sa.Column("tool_version", sa.String(40), nullable=False),
        sa.Column("rules_version", sa.String(80), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("error", sa.Text()),
        sa.Column("started_at", sa.String(40)),
        sa.Column("duration_s", sa.Float()),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime()),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("report", sa.JSON()),
        sa.UniqueConstraint("target_id", "rules_version", name="uq_scan_target_rules"),
    )
    op.create_index("ix_scans_target_id", "scans", ["target_id"])
    _scan_child(
        "findings",
        sa.Column("rule", sa.String(40), nullable=False),
        sa.Column("category", sa.String(60), nullable=False),
        sa.Column("severity", sa.String(10), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("path", sa.Text()),
        sa.Column("container", sa.JSON(), nullable=False),
        sa.Column("line", sa.Integer()),
        sa.Column("offset", sa.Integer()),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("backdoor_id", sa.String(120)),
        sa.Column("standards", sa.JSON(), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
    )
    op.create_index("ix_findings_rule", "findings", ["rule"])
    op.create_index("ix_findings_category", "findings", ["category"])
    op.create_index("ix_findings_fingerprint", "findings", ["fingerprint"])
    _scan_child(
        "endpoints",
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("host", sa.String(300)),
        sa.Column("port", sa.Integer()),
        sa.Column("scheme", sa.String(40)),
        sa.Column("country", sa.String(2)),
        sa.Column("owner", sa.String(300)),
        sa.Column("purpose", sa.String(80)),
        sa.Column("paths", sa.JSON(), nullable=False),
    )
    op.create_index("ix_endpoints_host", "endpoints", ["host"])
    op.create_index("ix_endpoints_country", "endpoints", ["country"])
    _scan_child(
        "accounts",
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("uid", sa.Integer()),
        sa.Column("gid", sa.Integer()),
        sa.Column("shell", sa.String(300)),
        sa.Column("home", sa.String(300)),
        sa.Column("password_state", sa.String(40)),
        sa.Column("source", sa.Text()),
    )
    _scan_child(
        "services",
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("binary", sa.Text()),
        sa.Column("auth", sa.String(20)),
        sa.Column("ports", sa.JSON(), nullable=False),
        sa.Column("started_by", sa.JSON(), nullable=False),
    )
    _scan_child(
        "components",
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("version", sa.String(120)),
        sa.Column("purl", sa.Text()),
        sa.Column("cpe", sa.Text()),
        sa.Column("paths", sa.JSON(), nullable=False),
    )
    op.create_index("ix_components_name", "components", ["name"])
    op.create_index("ix_components_version", "components", ["version"])
    _scan_child(
        "conformance",
        sa.Column("standard", sa.String(40), nullable=False),
        sa.Column("clause", sa.String(80), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("findings", sa.JSON(), nullable=False),
    )
    _scan_child(
        "attestations",
        sa.Column("format", sa.String(40), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "tokens",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False, unique=True),
        sa.Column("admin", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    for name in ("tokens", "attestations", "conformance", "components", "services", "accounts", "endpoints",
                 "findings", "scans", "targets"):
        op.drop_table(name)
