"""The Vietnamese voice prompts: manifest, rendered 8 kHz WAV files and the tools that make and check them."""


class PromptError(Exception):
    """Root of every error the voice_prompts package raises on purpose."""
