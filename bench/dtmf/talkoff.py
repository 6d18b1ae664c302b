"""Talk-off material for the DTMF corpus: speech (espeak-ng), music (synthesised), our own prompts, other tones.

Everything is 8 kHz and deterministic for a seed. Speech is rendered by espeak-ng in Vietnamese (three dialects),
English, French, German, Spanish, Mandarin, Cantonese, Thai and Japanese, with male and female variants, pitch
30-99 and speed 120-220 wpm, resampled to 8 kHz (half of it also band-passed 300-3400 Hz) and set to an active
speech level of -25, -15 (the spec's, Q.24 NTT) or -5 dBm0. Music is additive synthesis with harmonic timbres
(organ, flute, strings, clarinet, piano, bells), chords, bass and melody, vibrato, and sweeps. Pure two-sine
chords are left out on purpose: two pure tones on DTMF frequencies are a DTMF digit by definition.
"""
from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np

RATE = 8000
PROMPTS = Path(__file__).resolve().parents[2] / "voice_prompts" / "wav"

WORDS = {
    "vi": """tôi bạn anh chị em ông bà cô chú người nhà cửa đường phố xe máy điện thoại số mã bảo hiểm xã hội
        việt nam hà nội sài gòn đà nẵng huế cần thơ hải phòng ngày tháng năm giờ phút giây sáng trưa chiều tối đêm
        hôm nay mai qua ăn uống ngủ đi về đến làm học chơi nói nghe nhìn thấy biết hiểu muốn cần có không được rồi
        chưa đã sẽ đang vẫn cũng rất lắm quá hơn nhất nhiều ít to nhỏ cao thấp dài ngắn mới cũ đẹp xấu tốt vui buồn
        nóng lạnh mưa nắng gió trời đất nước sông biển núi rừng cây hoa lá quả cơm phở bánh mì cà phê trà sữa thịt
        cá gà rau muối tiền đồng giá mua bán chợ bệnh viện bác sĩ thuốc trường lớp thầy giáo sinh viên công ty văn
        phòng việc lương thẻ mật khẩu tài khoản đăng nhập cấp lại xin chào cảm ơn lỗi vâng dạ ừ một hai ba bốn sáu
        bảy tám chín mười trăm nghìn triệu gọi nhắn tin bấm phím chờ máy gặp hỏi trả lời giúp đỡ ạ nhé nhỉ à ơi""",
    "en": """the a to of and in is it you that he was for on are with as I his they be at one have this from or
        had by word but what some we can out other were all there when up use your how said an each she which do
        their time if will way about many then them write would like so these her long make thing see him two has
        look more day could go come did number sound no most people my over know water than call first who may down
        side been now find any new work part take get place made live where after back little only round man year
        came show every good me give our under name very through just form sentence great think say help low line
        password account insurance social security please press hello thank you sorry wait again""",
    "fr": """bonjour merci oui non je tu il elle nous vous ils maison rue voiture téléphone numéro argent travail
        jour nuit matin soir temps pluie soleil eau pain fromage vin café aujourd'hui demain hier toujours jamais
        beaucoup peu grand petit nouveau vieux bon mauvais aller venir faire dire voir savoir vouloir pouvoir""",
    "de": """guten Tag danke ja nein ich du er sie wir ihr Haus Straße Auto Telefon Nummer Geld Arbeit Tag Nacht
        Morgen Abend Zeit Regen Sonne Wasser Brot Käse Wein Kaffee heute morgen gestern immer nie viel wenig groß
        klein neu alt gut schlecht gehen kommen machen sagen sehen wissen wollen können Versicherung Passwort""",
    "es": """hola gracias sí no yo tú él ella nosotros casa calle coche teléfono número dinero trabajo día noche
        mañana tarde tiempo lluvia sol agua pan queso vino café hoy ayer siempre nunca mucho poco grande pequeño
        nuevo viejo bueno malo ir venir hacer decir ver saber querer poder seguro contraseña llamar""",
    "zh": "你好我是中国人谢谢不客气今天天气很好我们去吃饭吧请问电话号码是多少保险密码银行朋友老师学生工作时间明天晚上",
    "th": """สวัสดี ขอบคุณ ครับ ค่ะ ใช่ ไม่ ผม คุณ บ้าน ถนน รถ โทรศัพท์ เบอร์ เงิน งาน
        วันนี้ พรุ่งนี้ น้ำ ข้าว กาแฟ ดี มาก น้อย""",
    "ja": "こんにちは ありがとう はい いいえ わたし あなた いえ みち くるま でんわ ばんごう おかね しごと きょう あした みず ごはん",
}
#: (espeak voice, word list, is the text one unsegmented string of characters)
VOICES = [("vi", "vi", False), ("vi-vn-x-central", "vi", False), ("vi-vn-x-south", "vi", False),
          ("en-us", "en", False), ("en-gb", "en", False), ("fr-fr", "fr", False), ("de", "de", False),
          ("es", "es", False), ("cmn", "zh", True), ("yue", "zh", True), ("th", "th", False), ("ja", "ja", False)]
VARIANTS = ["", "+f1", "+f2", "+f3", "+f4", "+f5", "+m3", "+klatt", "+grandma", "+Annie", "+belinda", "+Tweaky"]
A4 = 440.0


def active_level(samples: np.ndarray) -> float:
    """A crude P.56: mean power over the 20 ms frames within 30 dB of the loudest 5 % (int16 units squared)."""
    frames = samples[: len(samples) // 160 * 160].reshape(-1, 160)
    power = (frames.astype(np.float64) ** 2).mean(axis=1)
    if not power.any():
        return 0.0
    loud = np.quantile(power, 0.95)
    return float(power[power >= loud / 1000].mean())


def set_active_level(samples: np.ndarray, dbm0: float) -> np.ndarray:
    """Scale to an active level of `dbm0` (dBm0, full-scale sine = +3.14 dBm0)."""
    level = active_level(samples)
    target = 32767.0**2 / 2 * 10 ** ((dbm0 - 3.14) / 10)
    return samples * np.sqrt(target / level) if level > 0 else samples


def _sox_to_8k(data: bytes, band: bool) -> np.ndarray:
    args = ["sox", "-R", "-V1", "-t", "wav", "-", "-t", "raw", "-r", str(RATE), "-e", "float", "-b", "32", "-c", "1",
            "-", "rate", "-v"] + (["sinc", "300-3400"] if band else [])
    out = subprocess.run(args, input=data, capture_output=True, check=True).stdout
    return np.frombuffer(out, dtype="<f4").astype(np.float64) * 32768.0


def utterance(rng: np.random.Generator, langs: tuple[str, ...]) -> tuple[str, np.ndarray]:
    """About 10-25 s of speech in a random voice speaking one of `langs`, at 8 kHz (float, int16 units)."""
    voices = [v for v in VOICES if v[1] in langs]
    voice, words, chars = voices[int(rng.integers(len(voices)))]
    variant = VARIANTS[int(rng.integers(len(VARIANTS)))]
    vocabulary = list(WORDS[words].replace(" ", "")) if chars else WORDS[words].split()
    count = int(rng.integers(30, 70))
    text = ("" if chars else " ").join(vocabulary[int(i)] for i in rng.integers(len(vocabulary), size=count))
    if not chars:  # sentence punctuation, so the voice falls and rises
        text = ". ".join(text[i: i + 60] for i in range(0, len(text), 60))
    command = ["espeak-ng", "-v", voice + variant, "-p", str(int(rng.integers(30, 100))),
               "-s", str(int(rng.integers(120, 221))), "--stdout", text]
    wav = subprocess.run(command, capture_output=True, check=True).stdout
    return f"{voice}{variant}", _sox_to_8k(wav, band=bool(rng.integers(2)))


def speech(rng: np.random.Generator, seconds: float, langs: tuple[str, ...],
           levels: tuple[float, ...] = (-25, -15, -15, -5)) -> tuple[str, np.ndarray]:
    """`seconds` of speech made of utterances, each at a level drawn from `levels` (dBm0, active)."""
    parts, names, total = [], [], 0
    while total < seconds * RATE:
        name, audio = utterance(rng, langs)
        audio = set_active_level(audio, float(rng.choice(levels)))
        parts += [audio, np.zeros(int(rng.integers(800, 4000)))]
        names.append(name)
        total += len(audio)
    return ",".join(sorted(set(names))), np.concatenate(parts)[: int(seconds * RATE)]


class SpeechBank:
    """Continuous speech for the talk-down condition, rendered a minute at a time."""

    def __init__(self, seed: int) -> None:
        self._rng = np.random.default_rng([seed, 7007])
        self._buffer = np.zeros(0)

    def take(self, samples: int) -> np.ndarray:
        while len(self._buffer) < samples:
            _, more = speech(self._rng, 60.0, ("vi", "en"), levels=(-20,))
            self._buffer = np.concatenate([self._buffer, more])
        out, self._buffer = self._buffer[:samples], self._buffer[samples:]
        return out


# -- music ---------------------------------------------------------------------------------------------------------
TIMBRES: dict[str, list[float]] = {
    "organ": [1, 0.8, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1],
    "flute": [1, 0.25, 0.1, 0.05],
    "strings": [1 / k for k in range(1, 16)],
    "clarinet": [1 / k if k % 2 else 0.02 for k in range(1, 12)],
    "piano": [1 / k**1.5 for k in range(1, 10)],
}
CHORDS = [(0, 4, 7), (0, 3, 7), (0, 4, 7, 10), (0, 3, 7, 10), (0, 4, 7, 11), (0, 5, 7), (0, 3, 6)]


def note(freq: float, seconds: float, timbre: str, rng: np.random.Generator) -> np.ndarray:
    """One note: harmonics below 3.8 kHz, an attack/decay envelope, vibrato on sustained timbres."""
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    vibrato = 1 + (0.006 * np.sin(2 * np.pi * rng.uniform(4.5, 6.5) * t) if timbre in ("flute", "strings") else 0)
    phase = 2 * np.pi * freq * np.cumsum(vibrato) / RATE
    out = np.zeros(n)
    if timbre == "bell":
        for ratio, amp in ((1, 1), (2.76, 0.6), (5.4, 0.4), (8.93, 0.25)):
            if freq * ratio < 3800:
                out += amp * np.sin(ratio * phase + rng.uniform(0, 6.3)) * np.exp(-t * ratio * 2)
        return out
    stretch = 1.0004 if timbre == "piano" else 1.0  # piano strings are slightly inharmonic
    for k, amp in enumerate(TIMBRES[timbre], start=1):
        if freq * k * stretch ** (k * k) < 3800:
            out += amp * np.sin(k * stretch ** (k * k) * phase + rng.uniform(0, 6.3))
    attack = np.minimum(t / 0.02, 1.0)
    decay = np.exp(-t * 3.0) if timbre == "piano" else np.minimum((seconds - t) / 0.03, 1.0)
    return out * attack * decay


def piece(rng: np.random.Generator, seconds: float) -> np.ndarray:
    """Chords, a bass line and a melody in random timbres and key."""
    beat = 60.0 / rng.uniform(60, 160)
    root = A4 * 2 ** ((int(rng.integers(-12, 0))) / 12)
    timbres = [str(rng.choice(list(TIMBRES) + ["bell"])) for _ in range(3)]
    out = np.zeros(int(seconds * RATE) + 10 * RATE)
    t = 0.0
    while t < seconds:
        chord = CHORDS[int(rng.integers(len(CHORDS)))]
        base = root * 2 ** (int(rng.choice([0, 2, 5, 7, 9])) / 12)
        length = beat * int(rng.choice([2, 4]))
        start = int(t * RATE)
        for step in chord:  # chord voices in octave 4-5, bass an octave or two down
            _mix(out, start, note(base * 2 ** (step / 12) * 2, length, timbres[0], rng) * 0.5)
        _mix(out, start, note(base / 2, length, timbres[1], rng))
        for m in range(int(length / beat) * 2):  # melody in eighths, chord tones and passing notes
            pitch = base * 4 * 2 ** ((int(rng.choice(chord)) + int(rng.choice([0, 0, 2, -1]))) / 12)
            _mix(out, start + int(m * beat / 2 * RATE), note(pitch, beat / 2, timbres[2], rng) * 0.7)
        t += length
    return out[: int(seconds * RATE)]


def _mix(out: np.ndarray, at: int, tone: np.ndarray) -> None:
    tone = tone[: max(0, len(out) - at)]
    out[at: at + len(tone)] += tone


def sweeps(rng: np.random.Generator) -> Iterator[tuple[str, np.ndarray]]:
    """Log sweeps 200-3400 Hz: a pure sine, with harmonics, and pairs at musical intervals; slow and fast."""
    for seconds in (1.0, 4.0, 10.0):
        t = np.arange(int(seconds * RATE)) / RATE
        rate = np.log(3400 / 200) / seconds
        phase = 2 * np.pi * 200 * (np.exp(rate * t) - 1) / rate
        yield f"sine-{seconds:g}s", np.sin(phase)
        yield f"harmonic-{seconds:g}s", sum(np.sin(k * phase) / k for k in range(1, 6))
        for interval in (1.25, 4 / 3, 1.5, 5 / 3, 2.0):
            yield f"pair-{interval:.2f}-{seconds:g}s", np.sin(phase) + np.sin(interval * phase + rng.uniform(0, 6))


def music(rng: np.random.Generator, seconds: float) -> Iterator[tuple[str, np.ndarray]]:
    """`seconds` of music in one-minute pieces at -20..-5 dBm0 (half band-passed like a phone), then sweeps."""
    made = 0.0
    while made < seconds:
        length = min(60.0, seconds - made)
        yield f"piece-{int(made) // 60:03d}", set_active_level(piece(rng, length), float(rng.uniform(-20, -5)))
        made += length
    for name, audio in sweeps(rng):
        yield f"sweep-{name}", set_active_level(audio, -10.0)


# -- other signals ------------------------------------------------------------------------------------------------
def _tones(freqs: tuple[float, ...], on: float, off: float, total: float, dbm0: float) -> np.ndarray:
    t = np.arange(int(on * RATE)) / RATE
    burst = sum(np.sqrt(2 * 32767.0**2 / 2 * 10 ** ((dbm0 - 3.14) / 10)) * np.sin(2 * np.pi * f * t) for f in freqs)
    cycle = np.concatenate([np.asarray(burst, dtype=np.float64), np.zeros(int(off * RATE))])
    return np.tile(cycle, int(np.ceil(total / (on + off))))[: int(total * RATE)]


def signals(rng: np.random.Generator) -> Iterator[tuple[str, np.ndarray]]:
    """Call-progress and modem tones, single DTMF tones, invalid DTMF-like tone sets, noise."""
    yield "dial-350+440", _tones((350, 440), 10, 0, 10, -13)
    yield "dial-425", _tones((425,), 10, 0, 10, -10)
    yield "ringback-440+480", _tones((440, 480), 2, 4, 12, -19)
    yield "busy-480+620", _tones((480, 620), 0.5, 0.5, 10, -24)
    yield "sit-913-1370-1776", np.concatenate([_tones((f,), 0.33, 0, 0.33, -14) for f in (913.8, 1370.6, 1776.7)] * 5)
    yield "ans-2100", _tones((2100,), 3, 0.5, 7, -12)
    yield "fax-cng-1100", _tones((1100,), 0.5, 3, 14, -10)
    for lo, hi, name in ((980, 1180, "v21-ch1"), (1650, 1850, "v21-ch2"), (1070, 1270, "bell103-orig")):
        bits = rng.integers(2, size=300 * 5).repeat(RATE // 300)
        freq = np.where(bits, lo, hi)
        yield name, 0.3 * np.sin(2 * np.pi * np.cumsum(freq) / RATE)
    for f in (697, 770, 852, 941, 1209, 1336, 1477, 1633):
        yield f"single-{f}", _tones((f,), 0.1, 0.1, 4, -10)
    for pair in ((697, 770), (852, 941), (697, 941), (1209, 1336), (1477, 1633), (1209, 1633)):
        yield f"same-group-{pair[0]}+{pair[1]}", _tones(pair, 0.1, 0.1, 4, -10)
    for trio in ((697, 1209, 1336), (697, 770, 1209), (852, 1477, 1633), (941, 1336, 2000), (770, 1336, 500)):
        yield f"three-tones-{'+'.join(map(str, trio))}", _tones(trio, 0.1, 0.1, 4, -10)
    yield "white-noise", rng.normal(0, 3000, 30 * RATE)
    pink = np.cumsum(rng.normal(0, 1, 30 * RATE))
    yield "brown-noise", (pink - np.convolve(pink, np.ones(400) / 400, mode="same")) * 300


def prompts() -> Iterator[tuple[str, np.ndarray]]:
    """The shipped prompts, back to back: as recorded, and 6 dB hotter with clipping (a loud echo path)."""
    import wave
    parts = []
    for path in sorted(PROMPTS.glob("*.wav")):
        with wave.open(str(path), "rb") as wav:
            parts.append(np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").astype(np.float64))
    if parts:
        audio = np.concatenate(parts)
        yield "as-recorded", audio
        yield "hot-6dB-clipped", np.clip(audio * 2.0, -32768, 32767)


def sources(seed: int, speech_minutes: float, music_minutes: float
            ) -> Iterator[tuple[str, str, np.ndarray]]:
    """(source, name, int16 samples) for every talk-off item; speech and music in one-minute items."""
    rng = np.random.default_rng([seed, 5005])
    for source, langs in (("speech-vi", ("vi",)), ("speech-other", ("en", "fr", "de", "es", "zh", "th", "ja"))):
        minutes = speech_minutes / 2
        sub = np.random.default_rng([seed, 6006, len(langs)])
        for i in range(int(np.ceil(minutes))):
            names, audio = speech(sub, min(60.0, (minutes - i) * 60), langs)
            yield source, f"{i:03d}-{names[:60]}", _int16(audio)
    for name, audio in music(rng, music_minutes * 60):
        yield "music", name, _int16(audio)
    for name, audio in prompts():
        yield "prompts", name, _int16(audio)
    for name, audio in signals(rng):
        yield "tones-noise", name, _int16(audio)


def _int16(audio: np.ndarray) -> np.ndarray:
    return np.clip(np.round(audio), -32768, 32767).astype(np.int16)
