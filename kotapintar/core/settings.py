"""One typed settings class: every option is a `KOTAPINTAR_*` environment variable, read once."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET = "dev-secret-change-me"
MIN_SECRET_CHARS = 32  # production refuses shorter secrets (sessions, CSRF and unit tokens derive from it)


class Settings(BaseSettings):
    """Deployment configuration. The defaults run the demo: an embedded SQLite file, one process."""

    model_config = SettingsConfigDict(env_prefix="KOTAPINTAR_", env_file=None, extra="ignore")

    environment: Literal["development", "test", "production"] = Field(
        "development", description="`production` refuses the default secret and insecure cookies."
    )
    database_url: str = Field(
        "sqlite:///kotapintar.db",
        description="SQLAlchemy URL. Default: an SQLite file in the working directory; "
        "`postgresql+psycopg://user@host/db` for PostgreSQL.",
    )
    secret_key: str = Field(
        DEV_SECRET, description="Signs session cookies and CSRF tokens. Must be set outside development."
    )
    region_code: str = Field("62.03", description="Kemendagri code of the kabupaten/kota this center serves.")
    timezone: str = Field("Asia/Jakarta", description="Zone used to show times (WIB/WITA/WIT).")
    ticket_prefix: str = Field("KPS", description="Prefix of public ticket numbers, e.g. KPS-2026-000123.")
    media_dir: Path = Field(Path("var/media"), description="Where uploaded photos are stored on disk.")
    max_description_chars: int = Field(5000, description="Longest report text accepted.")
    max_request_bytes: int = Field(
        12 * 1024 * 1024, description="Largest request body accepted (photos included)."
    )
    session_max_age_s: int = Field(8 * 3600, description="Browser session lifetime (session timeout).")
    token_max_age_s: int = Field(24 * 3600, description="Lifetime of API bearer tokens.")
    location_tolerance_m: float = Field(
        5000.0, description="How far outside the kabupaten a report may be and still be accepted."
    )
    stream_poll_s: float = Field(0.25, description="How often the SSE stream polls the events table.")
    demo_report_interval_s: float = Field(
        20.0, description="Seconds between synthetic reports in `make demo` (0 disables)."
    )
    cookie_secure: bool = Field(False, description="Mark cookies Secure (HTTPS only); true in production.")
    tile_url: str | None = Field(
        None,
        description="Optional online map tile URL template; the default base layer is the region boundaries.",
    )
    tile_attribution: str | None = Field(
        None,
        description="Credit line of the tiles at tile_url (e.g. '© OpenStreetMap contributors'), shown on maps.",
    )
    # --- background work
    scheduler_interval_s: float = Field(1.0, description="How often the timer scheduler claims due timers.")
    run_scheduler: bool = Field(True, description="Run the timer scheduler inside `kotapintar serve`.")
    # --- triage
    triage_review_threshold: float = Field(
        0.6, description="Below this classifier confidence a report goes to the operator's triage queue."
    )
    duplicate_merge_threshold: float = Field(
        0.85, description="Above this duplicate score a report joins the existing case automatically."
    )
    duplicate_suggest_threshold: float = Field(
        0.5,
        description="Above this score (and below the merge threshold) the operator sees 'possible duplicate'.",
    )
    # --- channels
    outbound_gateway: Literal["console", "http"] = Field(
        "console", description="Where messages to citizens go: the log (default) or an HTTP gateway."
    )
    outbound_http_url: str | None = Field(None, description="URL of the HTTP gateway for outbound messages.")
    sms_webhook_secret: str | None = Field(
        None, description="Shared secret the SMS gateway signs webhooks with."
    )
    whatsapp_app_secret: str | None = Field(
        None, description="WhatsApp Cloud API app secret (X-Hub-Signature-256)."
    )
    whatsapp_verify_token: str | None = Field(
        None, description="Token echoed in the WhatsApp webhook verification."
    )
    telegram_secret_token: str | None = Field(
        None, description="Telegram bot webhook secret (X-Telegram-Bot-Api-Secret-Token)."
    )
    quiet_hours: str = Field(
        "21:00-06:00", description="Local hours without non-emergency messages to citizens."
    )
    rate_limit_per_ip: str = Field("30/minute", description="Report submissions allowed per IP address.")
    rate_limit_per_phone: str = Field("10/hour", description="Report submissions allowed per phone number.")
    rate_limit_storage_url: str = Field(
        "memory://",
        description="Where rate limits and failed logins are counted: memory:// (one process) or "
        "redis://host:6379/0 to share the counts between web processes (needs the `redis` extra), or "
        "kotapintar+postgresql://user:pass@host/db to keep them in the PostgreSQL database (no Redis).",
    )
    # --- sensors
    mqtt_url: str | None = Field(
        None,
        description="MQTT broker for sensor and unit-position ingest, e.g. mqtt://127.0.0.1:1883 (optional).",
    )
    sensor_ingest_process: bool = Field(
        True,
        description="Ingest MQTT sensor messages in a worker process of its own (its own core and interpreter "
        "lock: the web pages stay responsive during a burst). Needs a database file or server, not :memory:.",
    )
    sensor_mqtt_qos: int = Field(
        0,
        ge=0,
        le=1,
        description="QoS of the sensor topic subscriptions. 1 lets devices that publish with QoS 1 keep their "
        "readings while ingest lags behind a burst (the broker queues them instead of dropping); 0 costs less.",
    )
    sensor_mqtt_share_group: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9_.-]{1,64}$",
        description="MQTT v5 shared subscription group: every ingest process subscribes to "
        "$share/<group>/<topic>, so the broker hands each message to one of them and several processes split "
        "the load. Unset: a plain MQTT 3.1.1 subscription (every subscriber gets every message).",
    )
    sensor_ingest_backlog: int = Field(
        200_000,
        ge=1,
        description="Most MQTT sensor messages held in memory waiting for ingest (~200 bytes each). Past it, "
        "new messages are dropped, counted and logged, so a flooding device or a stalled database cannot "
        "exhaust the server's memory.",
    )
    sensor_key_secret: str | None = Field(
        None,
        description="Secret that derives per-device API keys of the demo devices (defaults to secret_key).",
    )
    # --- intake (citizen form, photos, chat channels, abuse limits)
    max_photos: int = Field(5, description="Photos accepted with one report.")
    max_photo_bytes: int = Field(8 * 1024 * 1024, description="Largest single photo accepted, in bytes.")
    photo_max_px: int = Field(1600, description="Longest side of a stored (re-encoded) photo, in pixels.")
    thumb_max_px: int = Field(320, description="Longest side of a photo thumbnail, in pixels.")
    public_base_url: str = Field(
        "",
        description="Public address of this server, used in tracking links sent by SMS/chat "
        "(e.g. https://lapor.kapuaskab.go.id).",
    )
    spam_block_threshold: int = Field(
        3,
        description="Spam/prank flags after which a sender's new chat reports are refused (0 never refuses).",
    )
    run_notifier: bool = Field(
        True, description="Send status changes to reporters from inside `kotapintar serve`."
    )
    notifier_interval_s: float = Field(2.0, description="How often the reporter notifier reads new events.")
    # --- Open311
    open311_status_clients: list[str] = Field(
        default_factory=list,
        description="API key names of back-office clients allowed to change case status via Open311 "
        "servicerequestupdates (others may only comment). JSON list, e.g. '[\"fms-kapuas\"]'.",
    )
    open311_return_token: bool = Field(
        False,
        description="Answer Open311 POST requests with a token (type batch) instead of the service_request_id.",
    )
    open311_jurisdiction_id: str | None = Field(
        None,
        description="The Open311 jurisdiction_id of this deployment; other values get 404 (unset: ignored).",
    )
    # --- dispatch (112)
    road_network_path: Path | None = Field(
        None,
        description="Road network for unit ETAs (OSMnx .graphml or .osm.pbf); without it, a labelled "
        "straight-line estimate is used.",
    )
    avl_stale_s: float = Field(
        300.0, description="Unit positions older than this (seconds) are ignored as stale."
    )
    mqtt_units_topic: str = Field(
        "kotapintar/units",
        description="MQTT topic prefix of unit messages: <prefix>/<unit code>/position and .../status.",
    )
    unit_token_secret: str | None = Field(
        None, description="Secret that derives the field-crew token of each unit (defaults to secret_key)."
    )
    # --- sensors (integrated city data)
    demo_sensors: bool = Field(
        True,
        description="In `serve --demo`, feed simulated Kapuas sensor readings through the ingest service.",
    )
    demo_sensor_speed: float = Field(
        360.0,
        description="Simulated seconds per real second of the demo sensors' last 3 hours (360 = an hour in 10 s: "
        "the flood wave opens its case and the devices report as healthy within about half a minute).",
    )
    cap_sender: str = Field(
        "peringatan@kapuaskab.go.id",
        description="CAP 1.2 `sender` of the public warnings built from sensor rules.",
    )
    sensor_raw_retention_days: int = Field(
        90, description="Raw sensor readings older than this are deleted by the retention job (rollups stay)."
    )
    # --- triage (location, routing)
    triage_routing_file: str | None = Field(
        None, description="Routing rules YAML (service + region + hours -> agency); default: the shipped one."
    )
    triage_place_min_score: float = Field(
        0.88, description="Gazetteer: how closely (0-1) words must match a place name to locate a report."
    )

    # --- audit (signed checkpoints of the event log, kept outside the database)
    audit_signing_key_path: Path | None = Field(
        None,
        description="Ed25519 private key (PEM) that signs audit checkpoints; a file or mounted secret, never in "
        "the database (`kotapintar audit keygen --out FILE`). Unset: no checkpoints are written.",
    )
    audit_checkpoint_path: Path = Field(
        Path("var/audit/checkpoint.json"),
        description="Where the latest signed checkpoint is published (also served at /audit/checkpoint.json); "
        "dated copies are kept in history/ next to it. Copy them somewhere the database admin cannot write.",
    )
    audit_checkpoint_interval_s: float = Field(
        300.0, description="How often the worker writes a signed checkpoint (0 disables)."
    )

    # --- production: process roles, observability, outages (issue 19)
    scheduler_batch: int = Field(
        200, ge=1, le=5000, description="Most SOP timers claimed and fired in one transaction by a worker."
    )
    metrics_enabled: bool = Field(
        True, description="Serve Prometheus metrics at /metrics (request latency, SSE clients, timer lag, …)."
    )
    metrics_token: str | None = Field(
        None,
        description="When set, /metrics asks for `Authorization: Bearer <token>` (else restrict it at the proxy).",
    )
    metrics_port: int | None = Field(
        None,
        ge=1,
        le=65535,
        description="Port of a Prometheus endpoint for roles without an HTTP server (`run worker|ingest|"
        "notifier`; also `--metrics-port`): timer lag, ingest rate and drops, notifier queue.",
    )
    metrics_host: str = Field(
        "127.0.0.1", description="Address the non-web roles' metrics endpoint listens on (it has no token)."
    )
    json_logs: bool = Field(
        False, description="Write logs as one JSON object per line with the request id (for a log collector)."
    )
    request_id_header: str = Field(
        "X-Request-ID", description="Header carrying the request id (taken from the proxy when present)."
    )
    db_retry_after_s: int = Field(
        5, ge=1, description="Retry-After (seconds) of the 503 answered while the database is unreachable."
    )
    read_database_url: str | None = Field(
        None,
        description="Optional PostgreSQL streaming replica (hot standby) for the read-only traffic: the public "
        "portal, open data, Open311 GET, analytics and the monthly report. Writes, staff pages and a browser "
        "that has just written still read the primary (docs/operations.md, 'Read replica'). Unset: all on "
        "database_url.",
    )
    read_replica_max_lag_s: float = Field(
        5.0,
        ge=0,
        description="A replica further behind the primary than this (seconds) is not read from: the primary "
        "serves until it catches up.",
    )
    read_replica_check_s: float = Field(
        1.0, gt=0, description="How often a process re-measures the replica's reachability and lag."
    )
    read_your_writes_s: float = Field(
        10.0,
        gt=0,
        description="After a POST/PUT/PATCH/DELETE a browser reads from the primary for this long (cookie "
        "kp_wrote), so it sees its own write at once. Must be at least read_replica_max_lag_s + "
        "read_replica_check_s.",
    )
    # --- large tables partitioned by month on PostgreSQL (issue 19, migration 0017)
    partition_months_ahead: int = Field(
        3,
        ge=0,
        le=120,
        description="Months of `events` and sensor-reading partitions the worker keeps made ahead.",
    )
    partition_interval_s: float = Field(
        21600.0,
        ge=0,
        description="How often the worker checks the months ahead exist (0 disables; PostgreSQL).",
    )

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Settings:
        if self.environment == "production":
            if self.secret_key == DEV_SECRET or len(self.secret_key) < MIN_SECRET_CHARS:
                raise ValueError(
                    f"KOTAPINTAR_SECRET_KEY must be a random value of at least {MIN_SECRET_CHARS} characters in "
                    "production (e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`)."
                )
            # Session cookies never travel over plain HTTP in production, whatever the setting says.
            object.__setattr__(self, "cookie_secure", True)
        if (
            self.read_database_url
            and self.read_your_writes_s < self.read_replica_max_lag_s + self.read_replica_check_s
        ):
            raise ValueError(
                "KOTAPINTAR_READ_YOUR_WRITES_S must be at least KOTAPINTAR_READ_REPLICA_MAX_LAG_S + "
                "KOTAPINTAR_READ_REPLICA_CHECK_S: else a browser could read the replica before its own write "
                "reached it."
            )
        return self

    @property
    def is_sqlite(self) -> bool:
        """True when the database is the embedded SQLite default."""
        return self.database_url.startswith("sqlite")


def served_base_url(host: str, port: int) -> str:
    """The address a server listening on host:port is reached at (a wildcard host: this machine's address)."""
    import socket

    if host in ("0.0.0.0", "::", ""):
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
                probe.connect(("192.0.2.1", 9))  # TEST-NET-1: no packet is sent by a UDP connect
                host = str(probe.getsockname()[0])
        except OSError:
            host = socket.gethostname()
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}"


def public_base_url_problem(settings: Settings) -> str | None:
    """Why this process must not start as it is configured (links citizens receive), or None."""
    if settings.environment == "production" and not settings.public_base_url.strip():
        return (
            "KOTAPINTAR_PUBLIC_BASE_URL (public_base_url) wajib diisi di produksi: alamat https yang dibuka warga, "
            "mis. https://lapor.kapuaskab.go.id — tautan lacak di SMS/WhatsApp/Telegram memakainya / "
            "public_base_url must be set in production: links sent to citizens are built from it."
        )
    return None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read from the environment on first use."""
    return Settings()
