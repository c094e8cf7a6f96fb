"""Regression tests for the traps of issue 17: urgency in context, priority under an uncertain category.

Each test is named for the trap it guards. The texts are written for these tests (not copied from the
real-style evaluation set), so the tests do not leak the evaluation set into the rules.
"""

from __future__ import annotations

import pytest

from kotapintar.cases.lifecycle import Priority
from kotapintar.triage.classify import Classifier
from kotapintar.triage.classify.priority import decide_priority
from kotapintar.triage.classify.urgency import assess_urgency, read_urgency


@pytest.fixture(scope="module")
def clf() -> Classifier:
    return Classifier.load()


def labels(text: str) -> list[str]:
    """The labels of the cues that fire in a text."""
    return [m.label for m in read_urgency(text).matches]


# --- urgency cues that fired on the wrong words -----------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "ada kasus DBD di gang melati, tolong fogging",
        "anak pak rt kena demam berdarah, mohon pengasapan",
        "sudah dua warga kena DB minggu ini",
    ],
)
def test_dengue_is_not_bleeding(text: str) -> None:
    assert "pendarahan" not in labels(text)
    assert assess_urgency("kesehatan_lingkungan", text).priority == Priority.P3


def test_real_bleeding_still_counts() -> None:
    assert "pendarahan" in labels("ibu itu jatuh dari motor, kepalanya berdarah")


@pytest.mark.parametrize(
    ("service", "text", "default"),
    [
        ("lampu_jalan", "lampu jalan di gang kami mati, saya minta tolong diperbaiki", Priority.P4),
        ("sampah", "minta tolong sampahnya diangkut pak, sudah seminggu", Priority.P3),
        ("jalan_rusak", "mohon dibantu, kami minta tolong jalan ini ditambal", Priority.P3),
    ],
)
def test_polite_minta_tolong_is_not_a_cry_for_help(service: str, text: str, default: Priority) -> None:
    assessment = assess_urgency(service, text)
    assert assessment.priority == default
    assert not assessment.life_cues


def test_cry_for_help_still_counts() -> None:
    assert "teriak minta tolong" in labels("dari dalam rumah ada yang teriak minta tolong")


@pytest.mark.parametrize(
    "text",
    [
        "jalan ini rusak, tahun 2017 pernah ada korban jatuh di lubangnya",
        "dulu pernah ada yang meninggal tenggelam di parit ini, mohon dipagar",
        "kecelakaan bulan lalu di tikungan ini, mohon dipasang rambu",
    ],
)
def test_past_deaths_do_not_count_as_now(text: str) -> None:
    reading = read_urgency(text)
    assert not [m for m in reading.matches if m.kind == "life"]
    assert reading.not_now


def test_a_current_threat_beside_a_past_one_still_counts() -> None:
    text = "tahun lalu ada yang hanyut di sini. sekarang ada anak hanyut lagi, tolong"
    assert "hanyut" in labels(text)


@pytest.mark.parametrize(
    "text",
    [
        "simpang pasar rawan kecelakaan, mohon dipasang lampu lalu lintas",
        "trotoar ambrol bisa membahayakan pejalan kaki",
        "pohon miring takut roboh menimpa rumah",
        "mohon dicek sebelum ada korban",
    ],
)
def test_hypothetical_danger_is_not_a_life_threat(text: str) -> None:
    assert not [m for m in read_urgency(text).matches if m.kind == "life"]


def test_rawan_kecelakaan_is_not_p1_even_when_guessed_kecelakaan() -> None:
    decision = decide_priority("jalan simpang rawan kecelakaan", [("kecelakaan", 0.9)], confident=True)
    assert decision.priority == Priority.P3
    assert decision.reason == "bukan_kejadian_sekarang"


def test_negated_victims_do_not_count() -> None:
    assert not labels("motor senggolan, tidak ada korban")
    decision = decide_priority(
        "tabrakan dua mobil, untung tidak ada korban", [("kecelakaan", 0.95)], confident=True
    )
    assert decision.priority == Priority.P2


def test_real_accident_stays_p1() -> None:
    decision = decide_priority(
        "tabrakan motor di simpang, pengendara tergeletak", [("kecelakaan", 0.9)], confident=True
    )
    assert decision.priority == Priority.P1


# --- hazard + people at risk -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "banjir di rumah kami, ga bisa keluar, ga ada makanan atau bantuan",
        "air sudah sampai lantai 2, ada yang asma, tolong bantuan",
        "banjir makin tinggi, nenek kami lumpuh di rumah",
        "banyu sudah masuk rumah, ada bayi, tulungi",
    ],
)
def test_flood_with_people_at_risk_is_p1_whatever_the_category(text: str) -> None:
    for guess in ("bansos", "drainase", "lainnya"):
        decision = decide_priority(text, [(guess, 0.9)], confident=True)
        assert decision.priority == Priority.P1, guess


def test_flood_without_people_at_risk_keeps_the_flood_default() -> None:
    decision = decide_priority("air masuk rumah sekitar 20 cm", [("banjir", 0.9)], confident=True)
    assert decision.priority == Priority.P2


def test_flood_and_a_polite_request_to_the_government_is_not_p1() -> None:
    decision = decide_priority(
        "banjir lagi tiap hujan, tolong pemerintah perbaiki drainase", [("banjir", 0.9)], confident=True
    )
    assert decision.priority == Priority.P2


def test_fire_now_is_p1_whatever_the_category() -> None:
    decision = decide_priority(
        "warung sebelah terbakar, apinya besar", [("ketertiban_umum", 0.7)], confident=True
    )
    assert decision.priority == Priority.P1


def test_past_fire_asking_for_aid_is_not_p1() -> None:
    text = "rumah kami habis terbakar bulan lalu, mohon bantuan bahan bangunan"
    assert decide_priority(text, [("bansos", 0.8)], confident=True).priority == Priority.P4
    assert decide_priority(text, [("kebakaran", 0.8)], confident=True).priority == Priority.P3


def test_fire_prevention_request_is_not_p1() -> None:
    text = "mohon cek instalasi listrik pasar, bisa menyebabkan kebakaran"
    assert decide_priority(text, [("kebakaran", 0.9)], confident=True).priority == Priority.P3


def test_victims_of_a_past_fire_asking_for_aid_are_not_a_fire_now() -> None:
    assert "kebakaran" not in labels("korban kebakaran pasar belum dapat bantuan")


# --- priority under an uncertain category -------------------------------------------------------------


def test_uncertain_guess_does_not_inherit_an_emergency_default() -> None:
    letter = (
        "Yth. Bapak Bupati, semoga Bapak sehat selalu. Kami mengeluhkan pelayanan rumah sakit yang lambat "
        "dan perawat yang tidak ramah. Terima kasih."
    )
    decision = decide_priority(
        letter, [("darurat_medis", 0.35), ("lainnya", 0.3), ("kesehatan_lingkungan", 0.1)], confident=False
    )
    assert decision.priority == Priority.P4
    assert decision.reason == "tidak_pasti_alternatif"


def test_uncertain_guess_with_only_emergency_alternatives_is_p2_not_p1() -> None:
    decision = decide_priority(
        "pak tolong kami", [("darurat_medis", 0.4), ("kecelakaan", 0.3)], confident=False
    )
    assert decision.priority == Priority.P2


def test_uncertain_guess_with_an_emergency_happening_now_is_p1() -> None:
    decision = decide_priority(
        "tabrakan di simpang barusan", [("lalu_lintas", 0.45), ("kecelakaan", 0.4)], confident=False
    )
    assert decision.priority == Priority.P1


def test_real_emergency_is_never_downgraded_by_a_non_emergency_guess() -> None:
    text = "jalan rusak, ada pengendara jatuh tidak sadarkan diri"
    for confident in (True, False):
        decision = decide_priority(text, [("jalan_rusak", 0.9 if confident else 0.4)], confident=confident)
        assert decision.priority == Priority.P1


# --- the operator sees the matched words -------------------------------------------------------------


def test_cues_carry_the_reporters_own_words() -> None:
    [match] = [m for m in read_urgency("tolong kami ga bisa keluar").matches if m.label == "terjebak"]
    assert match.words == "ga bisa keluar"
    assert match.shown() == "terjebak: ga bisa keluar"


# --- the whole classifier on the issue's examples ---------------------------------------------------


def test_issue_dengue_example_is_not_p1(clf: Classifier) -> None:
    c = clf.classify("ada kasus DBD di RT 3 mohon fogging")
    assert c.service == "kesehatan_lingkungan" and c.urgency != Priority.P1


def test_issue_mati_lampu_is_a_power_cut(clf: Classifier) -> None:
    assert clf.classify("mati lampu dari sore di kampung kami").service == "listrik_padam"


def test_road_letter_mentioning_lampu_merah_stays_a_road(clf: Classifier) -> None:
    c = clf.classify("aspal di dekat lampu merah simpang berlubang besar, banyak motor jatuh, mohon ditambal")
    assert c.service == "jalan_rusak"


def test_rawan_kecelakaan_at_a_junction_is_not_forwarded_as_a_p1_accident(clf: Classifier) -> None:
    c = clf.classify("persimpangan depan pasar rawan kecelakaan, mohon dipasang rambu")
    assert c.urgency != Priority.P1
    assert not (c.service == "kecelakaan" and not c.needs_review())


def test_flood_victims_asking_for_help_are_p1(clf: Classifier) -> None:
    c = clf.classify("banjir sudah sepinggang, kami ga bisa keluar rumah, ga ada makanan, tolong")
    assert c.urgency == Priority.P1


def test_long_formal_letter_is_not_p1(clf: Classifier) -> None:
    letter = (
        "Assalamu'alaikum warahmatullahi wabarakatuh. Yth. Bapak Bupati Kapuas, semoga Bapak senantiasa "
        "diberikan kesehatan. Kami warga desa mengeluhkan sikap kepala desa yang jarang masuk kantor "
        "sehingga surat-surat warga terlambat. Demikian, atas perhatian Bapak kami ucapkan terima kasih. "
        "Wassalamu'alaikum."
    )
    assert clf.classify(letter).urgency != Priority.P1


def test_fire_extinguisher_training_is_not_a_fire_now() -> None:
    text = "sesudah kebakaran kios bulan lalu, mohon pelatihan alat pemadam api ringan untuk pedagang"
    assert decide_priority(text, [("kebakaran", 0.9)], confident=True).priority == Priority.P3


def test_a_proposal_before_the_dry_season_is_not_a_fire_now() -> None:
    text = "menjelang kemarau kami mengusulkan sumur bor karena lahan di sini sering terbakar"
    assert decide_priority(text, [("karhutla", 0.9)], confident=True).priority == Priority.P3
