"""A client that talks to /v1/asr exactly the way FunASR's sample ``funasr_wss_client.py`` does."""

from __future__ import annotations

import asyncio
import json
import wave

import websockets


async def funasr_client(
    uri: str, wav_paths: list, mode: str, chunk_interval: int = 10
) -> list[dict]:  # noqa: ANN001
    """Send each wav as FunASR's sample client does; return every server message."""
    chunk_size = [5, 10, 5]
    messages: list[dict] = []
    async with websockets.connect(uri, subprotocols=["binary"], ping_interval=None) as ws:
        assert ws.subprotocol == "binary"
        for path in wav_paths:
            with wave.open(str(path), "rb") as wav:
                sample_rate = wav.getframerate()
                audio_bytes = wav.readframes(wav.getnframes())
            stride = int(60 * chunk_size[1] / chunk_interval / 1000 * sample_rate * 2)
            chunk_num = (len(audio_bytes) - 1) // stride + 1
            await ws.send(
                json.dumps(
                    {
                        "mode": mode,
                        "chunk_size": chunk_size,
                        "chunk_interval": chunk_interval,
                        "encoder_chunk_look_back": 4,
                        "decoder_chunk_look_back": 0,
                        "audio_fs": sample_rate,
                        "wav_name": path.stem,
                        "wav_format": "pcm",
                        "is_speaking": True,
                        "hotwords": "",
                        "itn": True,
                    },
                    ensure_ascii=False,
                )
            )
            for i in range(chunk_num):
                await ws.send(audio_bytes[i * stride : (i + 1) * stride])
                await asyncio.sleep(0.001)
            await ws.send(json.dumps({"is_speaking": False, "is_end": True}))
            while True:
                msg = json.loads(await asyncio.wait_for(ws.recv(), 120))
                messages.append(msg)
                if msg.get("is_end"):
                    break
    return messages


def assemble(messages: list[dict], wav_name: str) -> str:
    """The text FunASR's sample client prints for one wav (its offline / online / 2pass rules)."""
    text_print, online, offline = "", "", ""
    for m in messages:
        if m.get("wav_name") != wav_name:
            continue
        if m["mode"] in ("online", "offline"):
            text_print += m["text"]
        elif m["mode"] == "2pass-online":
            online += m["text"]
            text_print = offline + online
        else:
            online = ""
            offline += m["text"]
            text_print = offline
    return text_print
