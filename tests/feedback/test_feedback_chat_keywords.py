"""Chat keywords at every prompt (issue 20, item 6): BATAL, MENU, YA and TIDAK never become a report's text
or a place, whatever the bot asked last."""

from __future__ import annotations

from kotapintar.core.db.database import Database
from tests.conftest import LiveServer
from tests.intake.intake_helpers import count_cases, tg_post


def test_keywords_at_every_prompt(live_server: LiveServer, db: Database) -> None:
    chat = {"id": 8801, "type": "private"}
    n = iter(range(1, 1000))

    def say(text: str) -> str:
        i = next(n)
        r = tg_post(
            live_server.url, {"update_id": 9000 + i, "message": {"message_id": i, "chat": chat, "text": text}}
        )
        assert r.status_code == 200, r.text
        return "\n".join(r.json()["replies"])

    assert "Tidak ada pertanyaan" in say("YA")  # idle: nothing asked
    assert "Tidak ada pertanyaan" in say("tidak")
    assert "Di mana lokasinya" in say("lampu jalan mati sudah seminggu, gelap sekali")
    assert "belum kami terima" in say("TIDAK")  # the location prompt: not a place
    assert "belum kami terima" in say("ya")
    assert "Halo" in say("MENU")  # help at any prompt, the report kept
    assert "Benar?" in say("Desa Pulau Telo")
    assert "Pilih nomor" in say("TIDAK")  # the confirm prompt: choose another kind
    assert "Pilih nomor" in say("YA")  # the choice prompt wants a number
    assert "dibatalkan" in say("BATAL")
    assert "Tidak ada pertanyaan" in say("YA")  # after cancelling nothing is asked any more
    assert count_cases(db) == 0
