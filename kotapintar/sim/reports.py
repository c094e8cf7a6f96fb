"""The demo's gentle stream of synthetic reports and operator work, driven through the real services."""

from __future__ import annotations

import logging
import random
import threading
from dataclasses import dataclass

from shapely.geometry import Point

from kotapintar.cases import service as case_service
from kotapintar.cases.filters import CaseFilter
from kotapintar.cases.schemas import ReporterIn, ReportIn
from kotapintar.catalog.locating import region_index
from kotapintar.core.access.actors import Actor, channel_actor
from kotapintar.core.access.auth import actor_for
from kotapintar.core.db.database import Database
from kotapintar.core.errors import DomainError
from kotapintar.intake.submit import submit_report
from kotapintar.sim.crew import DemoCrew

log = logging.getLogger("kotapintar.sim")

# (service, weight, texts): what people in Kapuas actually report, in their own words.
SCENARIOS: list[tuple[str, int, list[str]]] = [
    (
        "jalan_rusak",
        14,
        [
            "Jalan berlubang besar di depan sekolah, motor sering jatuh kalau malam.",
            "jln rusak parah dkt pasar, tlg diperbaiki pak",
            "Aspal jalan desa mengelupas sepanjang 200 meter, truk sawit lewat terus.",
        ],
    ),
    (
        "lampu_jalan",
        10,
        [
            "Lampu jalan mati sudah seminggu di gang masjid, gelap sekali.",
            "PJU depan kantor desa padam, rawan maling",
        ],
    ),
    (
        "sampah",
        10,
        [
            "Sampah menumpuk di TPS pinggir sungai, bau dan dikerubungi lalat.",
            "tumpukan sampah di pinggir jalan blm diangkut 3 hari",
        ],
    ),
    (
        "drainase",
        8,
        [
            "Parit tersumbat sampah, air meluap ke jalan kalau hujan.",
            "Gorong-gorong ambruk, air got menggenang di depan rumah warga.",
        ],
    ),
    (
        "banjir",
        6,
        [
            "Air sungai naik, halaman rumah warga sudah tergenang 30 cm.",
            "Banjir masuk rumah di RT 03, warga mulai mengungsi ke sekolah.",
        ],
    ),
    ("air_bersih", 6, ["Air PDAM tidak mengalir sejak kemarin sore.", "air ledeng keruh dan berbau"]),
    (
        "listrik_padam",
        5,
        ["Listrik padam sejak jam 7 pagi, satu kampung gelap.", "Tiang listrik miring mau roboh."],
    ),
    (
        "pohon_tumbang",
        4,
        ["Pohon tumbang menutup jalan setelah hujan angin.", "Dahan besar patah menimpa kabel."],
    ),
    (
        "kebakaran",
        3,
        ["Ada asap tebal dari rumah warga, api mulai membesar!", "Kebakaran gudang di dekat dermaga."],
    ),
    (
        "karhutla",
        3,
        ["Lahan gambut terbakar di belakang kebun, asap tebal.", "Titik api di lahan kosong dekat desa."],
    ),
    (
        "kecelakaan",
        3,
        [
            "Tabrakan motor dengan pick up di tikungan, satu orang luka.",
            "Kecelakaan lalu lintas, korban terkapar.",
        ],
    ),
    (
        "darurat_medis",
        2,
        ["Ibu hamil pendarahan butuh ambulans segera.", "Bapak tua pingsan di pasar tidak sadarkan diri."],
    ),
    ("pencarian_pertolongan", 1, ["Perahu terbalik di sungai Kapuas, satu orang hanyut."]),
    ("ketertiban_umum", 4, ["Balap liar tiap malam minggu di jalan lingkar, berisik dan bahaya."]),
    ("adminduk", 3, ["KTP elektronik belum jadi sudah 3 bulan, mohon info."]),
    ("bansos", 2, ["Lansia di RT kami belum menerima bantuan sosial."]),
    ("kesehatan_lingkungan", 2, ["Banyak jentik nyamuk di genangan, warga ada yang kena DBD."]),
    ("lalu_lintas", 2, ["Lampu lalu lintas perempatan mati, macet dan semrawut."]),
]

NAMES = ["Budi", "Siti", "Ahmad", "Rina", "Yusuf", "Dewi", "Hendra", "Nurul", "Agus", "Lestari"]


@dataclass
class DemoSimulator:
    """Submits synthetic reports every few seconds and lets the demo operator work some of them."""

    db: Database
    interval_s: float = 20.0
    seed: int = 20261129

    def __post_init__(self) -> None:
        self.random = random.Random(self.seed)
        self.crew = DemoCrew(self.db, random.Random(self.seed + 1))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _point(self) -> tuple[float, float, str] | None:
        index = region_index(self.db)
        kecamatan = index.by_level.get("kecamatan") or []
        if not kecamatan:
            return None
        # Most people live downstream around Kuala Kapuas: weight the southern kecamatan more.
        weights = [3.0 if r.geometry.centroid.y < -2.5 else 1.0 for r in kecamatan]
        region = self.random.choices(kecamatan, weights=weights, k=1)[0]
        minx, miny, maxx, maxy = region.geometry.bounds
        for _ in range(50):
            lon, lat = self.random.uniform(minx, maxx), self.random.uniform(miny, maxy)
            if region.geometry.contains(Point(lon, lat)):
                return round(lon, 6), round(lat, 6), region.name
        centre = region.geometry.representative_point()
        return centre.x, centre.y, region.name

    def submit_one(self) -> int | None:
        """Submit one synthetic report; returns its case id."""
        service, _, texts = self.random.choices(SCENARIOS, weights=[w for _, w, _ in SCENARIOS], k=1)[0]
        where = self._point()
        if where is None:
            return None
        lon, lat, place = where
        channel = self.random.choice(["web", "web", "sms", "whatsapp", "open311", "api"])
        report = ReportIn(
            service_code=service,
            description=self.random.choice(texts) + f" (Kec. {place})",
            lon=lon,
            lat=lat,
            channel=channel,
            reporter=ReporterIn(
                name=self.random.choice(NAMES), phone=f"+62812{self.random.randint(10_000_000, 99_999_999)}"
            ),
            anonymous=self.random.random() < 0.1,
        )
        result = submit_report(self.db, channel_actor(channel), report)
        return result.case_id

    def work_some(self, operator: Actor) -> None:
        """Let the demo operator move a few open cases along, so the live page shows the lifecycle."""
        page = case_service.list_cases(
            self.db, operator, CaseFilter(statuses=("received", "verified")), limit=20
        )
        for case in page.items:
            if self.random.random() > 0.35:
                continue
            try:
                if case.status == "received":
                    case_service.verify_case(self.db, operator, case.id)
                elif case.status == "verified" and case.agency_code:
                    case_service.assign_case(self.db, operator, case.id, case.agency_code)
            except DomainError as exc:
                log.debug("demo operator skipped case %s: %s", case.id, exc)

    def _operator(self) -> Actor | None:
        with self.db.reading() as uow:
            user = uow.users.by_username("operator")
            return actor_for(user) if user is not None else None

    def run(self) -> None:
        """The loop: one report, some operator work, the agencies and crews at work, wait."""
        while not self._stop.is_set():
            try:
                self.submit_one()
                operator = self._operator()
                if operator is not None:
                    self.work_some(operator)
                    self.crew.work(operator)
            except Exception:  # the demo must keep going whatever one iteration hits
                log.exception("demo simulator iteration failed")
            self._stop.wait(self.interval_s)

    def start(self) -> None:
        """Run in a daemon thread."""
        self._thread = threading.Thread(target=self.run, name="kotapintar-demo", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Ask the loop to end."""
        self._stop.set()
