"""`python -m training.ood [--json PATH] [--grid PNG] [--low-res-grid PNG] [--log-mel-grid PNG]`:
the OOD report of a checkpoint, and pictures of what the encoders see.

The options are OodSettings' fields: models.settings' (CHECKPOINT, DATA_DIR, DEVICE,
DIGITBRIDGE_CACHE, whose ood/ folder caches the generated speech) and the report's own
(OOD_JSON_PATH, ...); an option wins over its env var.
"""

import json
import sys
from pathlib import Path

from pydantic import Field
from pydantic_settings import CliApp, SettingsConfigDict

from models.runtime import load_encoders
from models.settings import ModelSettings
from training.ood.grid import log_mel_grid, normalised_grid, upload_and_normalised_grid
from training.ood.low_res import IMAGE_CONDITIONS, low_res_digits
from training.ood.recording_conditions import AUDIO_CONDITIONS, condition_speech
from training.ood.rendered_digits import OodImage, rendered_digits
from training.ood.report import evaluate_ood


class OodSettings(ModelSettings):
    """Out-of-distribution evaluation of the DigitBridge encoders. Each option is also an env var."""

    model_config = SettingsConfigDict(
        env_prefix="OOD_", cli_prog_name="python -m training.ood", cli_shortcuts={"json-path": "json"}
    )

    json_path: Path | None = Field(default=None, description="also write the report here (it is printed too)")
    grid: Path | None = Field(default=None, description="also write a PNG grid of the normalised OOD images")
    low_res_grid: Path | None = Field(
        default=None, description="also write a PNG of low-res uploads and what the encoder sees"
    )
    log_mel_grid: Path | None = Field(
        default=None, description="also write a PNG of recording conditions' log-mels"
    )


def main(argv: list[str] | None = None) -> int:
    args = CliApp.run(OodSettings, cli_args=argv)

    encoders = load_encoders(args.checkpoint, args.device, args.encoder_runtime)
    digits = rendered_digits()
    condition_audio = condition_speech(args.data_dir, voices_dir=args.cache_dir / "voices")
    condition_images = low_res_digits(args.data_dir)
    if args.grid:
        normalised_grid(digits, encoders.config).save(args.grid)
    if args.low_res_grid:
        # a pair of rows per condition: the first MNIST test digit of each label, then what the encoder sees
        first: dict[tuple[str, int], OodImage] = {}
        for image in condition_images:
            if image.font == "mnist":
                first.setdefault((image.style, image.label), image)
        shown = sorted(first.values(), key=lambda d: (IMAGE_CONDITIONS.index(d.style), d.label))
        upload_and_normalised_grid(shown, encoders.config).save(args.low_res_grid, optimize=True)
    if args.log_mel_grid:
        # rows: an FSDD take of "three", an espeak-ng female "six"; columns: the recording conditions
        picked = [c for c in condition_audio if c.name.endswith(("fsdd_3_jackson_0", "espeak_f1_6"))]
        picked.sort(key=lambda c: (c.group, AUDIO_CONDITIONS.index(c.style)))
        log_mel_grid(picked, encoders.config, columns=len(AUDIO_CONDITIONS)).save(
            args.log_mel_grid, optimize=True
        )
    report = evaluate_ood(
        encoders,
        args.data_dir,
        args.cache_dir / "ood",
        digits=digits,
        condition_audio=condition_audio,
        condition_images=condition_images,
    )
    text = json.dumps(report, indent=2)
    if args.json_path:
        args.json_path.write_text(text + "\n")
    sys.stdout.write(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
