"""``sma-calibrate``: fit the disease model to the published figures and write the fitted set."""

from __future__ import annotations

import sys

import hydra
from omegaconf import DictConfig
from rich.console import Console
from tqdm.auto import tqdm

from sma_response.cli._display import calibration_console_table
from sma_response.conf.resolvers import CONFIG_DIR, register_resolvers
from sma_response.pipelines.calibrate import run_calibration
from sma_response.simulate.evidence import EvidenceError
from sma_response.simulate.trials import TrialSpecError

register_resolvers()


@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="calibrate")
def main(cfg: DictConfig) -> None:
    """Run the joint fit (and the leave-one-study-out refits) and print the tables."""
    bars: dict[str, tqdm] = {}

    def progress(stage: str, i: int, best: float) -> None:
        if not cfg.progress:
            return
        if stage not in bars:
            for bar in bars.values():
                bar.close()
            total = cfg.n_trials if stage == "joint fit" else cfg.loso.n_trials
            bars[stage] = tqdm(total=int(total), desc=stage, unit="candidate")
        bars[stage].update(1)
        bars[stage].set_postfix_str(f"loss {best:.1f}")

    try:
        run = run_calibration(cfg, progress=progress)
    except (TrialSpecError, EvidenceError, ValueError) as err:
        sys.stderr.write(f"sma-calibrate: error: {err}\n")
        sys.exit(2)
    finally:
        for bar in bars.values():
            bar.close()
    console = Console(width=None if Console().is_terminal else 110)
    calibration_console_table(run.in_sample, console=console)
    if not run.loso.empty:
        n = int(run.loso["within"].sum())
        studies = run.loso.groupby("study")["within"].all()
        console.print(
            f"leave one study out: {n} of {len(run.loso)} held-out figures inside their "
            f"interval; {int(studies.sum())} of {len(studies)} studies with every figure inside"
        )
    console.print(
        f"loss {run.fit.start_loss:.1f} -> {run.fit.loss:.1f} ({run.fit.n_trials} candidates); "
        f"wrote {run.out_file}"
        + (f" and {run.loso_file}" if run.loso_file else "")
        + f" in {run.wall_seconds:.0f} s"
    )


if __name__ == "__main__":
    main()
