"""`prompts install NAME [ID]` / `prompts revert ID`: the box's own recording of one prompt, kept in the state dir.

The shipped prompts live in the read-only package; a box's own recording goes to `<state>/prompts/recorded/<id>.wav`
(`voice_prompts.catalog.box_recordings`), which the daemon's catalog plays instead of the shipped file. An uploaded
WAV must pass the same checks as `resetline prompts check` (8 kHz mono 16-bit plain PCM, level, no clipping, at most
100 ms of silence at either end); it is not converted here. Its AMR-NB copy for SIM800 file playback is made by sox
as `prompts render` makes it. Files are replaced whole (temporary file, fsync, rename). The daemon reads prompts
at start, so a change applies after a restart.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from voice_prompts import PromptError
from voice_prompts.catalog import PromptCatalog, box_recordings
from voice_prompts.check import wav_faults
from voice_prompts.render import _write_amr  # the one AMR-NB recipe of the render pipeline

from firmware.atomic import fsync_dir, replace_file
from .config_edit import RESTART_NOTE
from .context import Context
from .incoming import check_name, incoming_dir

MAX_RECORDING_BYTES = 4 * 1024 * 1024  # 4 min at 8 kHz 16-bit: far longer than any prompt
CONVERT_HINT = ("Make it 8 kHz mono 16-bit on the laptop (e.g. put it in voice_prompts/recorded/ID.wav and run "
                "`resetline prompts render --only ID`, which also sets the level and trims the silence), then send "
                "it again.")


def _catalog(ctx: Context) -> PromptCatalog:
    return PromptCatalog.load(override_dir=box_recordings(ctx.settings.state_dir))


def install(ctx: Context, name: str, prompt_id: str | None) -> None:
    source = incoming_dir(ctx.settings.state_dir) / name
    prompt_id = prompt_id or (name[:-4] if name.lower().endswith(".wav") else name)
    try:
        catalog = _catalog(ctx)
        problem = check_name(name)
        if problem is None and not source.is_file():
            problem = f"no file {name!r} in {source.parent}; upload it with `receive`"
        elif problem is None and prompt_id not in catalog:
            problem = (f"no prompt {prompt_id!r}; give the id: prompts install NAME ID "
                       f"(ids: {', '.join(catalog.ids())})")
        elif problem is None and source.stat().st_size > MAX_RECORDING_BYTES:
            problem = f"{name} is {source.stat().st_size} bytes; a prompt recording is at most {MAX_RECORDING_BYTES}"
        faults = [] if problem else wav_faults(source, catalog.prompt(prompt_id), name)
        if faults:
            problem = "the recording fails the prompt check:\n  " + "\n  ".join(faults) + "\n" + CONVERT_HINT
        if problem:
            raise PromptError(problem)
        warning = _put_in_place(source, box_recordings(ctx.settings.state_dir), prompt_id)
    except (PromptError, OSError) as exc:
        ctx.say(f"Not installed / Không cài đặt: {exc}")
        ctx.audit("prompts_install_refused", f"{name} as {prompt_id}: {str(exc).splitlines()[0][:160]}")
        return
    seconds = _catalog(ctx).duration(prompt_id)
    ctx.audit("prompts_install", f"{name} as {prompt_id} ({seconds:.2f} s)")
    ctx.say(f"Installed {name} as prompt {prompt_id} ({seconds:.2f} s); `prompts revert {prompt_id}` goes back to "
            "the shipped recording.")
    if warning:
        ctx.say(warning)
    ctx.say(RESTART_NOTE)


def _put_in_place(source: Path, folder: Path, prompt_id: str) -> str | None:
    """Write the WAV (and its AMR copy when sox is there) atomically; a warning when the AMR copy was not made."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o750)
    amr, new_amr = folder / f"{prompt_id}.amr", folder / f".{prompt_id}.new.amr"
    sox = shutil.which("sox")
    try:
        if sox:
            _write_amr(sox, source, new_amr)
        replace_file(folder / f"{prompt_id}.wav", source.read_bytes(), 0o644)
        if sox:
            new_amr.replace(amr)
        else:
            amr.unlink(missing_ok=True)  # never keep the AMR copy of the recording it replaced
        fsync_dir(folder)
    finally:
        new_amr.unlink(missing_ok=True)
    if sox:
        return None
    return ("warning: sox is not installed, so there is no AMR copy: a SIM800 line (modem-files) cannot play this "
            "prompt (apt-get install sox, then install it again)")


def revert(ctx: Context, prompt_id: str) -> None:
    try:
        catalog = _catalog(ctx)
        wav = catalog.override_path(prompt_id)
        if wav is None:
            raise PromptError(f"prompt {prompt_id!r} already plays the shipped recording")
        amr = catalog.override_path(prompt_id, ".amr")
        wav.unlink()
        if amr is not None:
            amr.unlink(missing_ok=True)
        fsync_dir(wav.parent)
    except (PromptError, OSError) as exc:
        ctx.say(f"Not changed / Không thay đổi: {exc}")
        return
    ctx.audit("prompts_revert", prompt_id)
    ctx.say(f"Prompt {prompt_id} plays the shipped recording again.")
    ctx.say(RESTART_NOTE)
