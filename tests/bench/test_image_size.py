"""bench.image_size's reading of the Dockerfile (single functions; building the venvs it measures
takes minutes and ~6 GB: `make image-size`, outside the suite)."""

from pathlib import Path

import pytest

from bench.dockerfile import logical_lines, parse_dockerfile
from bench.image_size import VENV, builder_run, context_copies, markdown, tree_bytes

DOCKERFILE = parse_dockerfile()


def test_continued_instructions_are_joined_and_comments_inside_them_dropped() -> None:
    text = "# top\nFROM base AS b\nRUN a \\\n # why b\n && b\n\nCOPY x/ ./x/\n"
    assert logical_lines(text) == ["FROM base AS b", "RUN a  && b", "COPY x/ ./x/"]


def test_the_replayed_command_is_the_dockerfiles_own_venv_build() -> None:
    run = builder_run(DOCKERFILE)
    assert run.startswith(f"python -m venv {VENV}")
    assert "pip install -c constraints.txt -r runtime.txt" in run
    assert "TORCH_VARIANT" in run  # the variant decides whether torch goes in


def test_a_dockerfile_without_one_venv_build_is_refused(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM x\nRUN echo hi\n")
    with pytest.raises(ValueError, match="expected one RUN"):
        builder_run(parse_dockerfile(tmp_path / "Dockerfile"))


def test_the_package_layer_is_what_the_runtime_stage_copies_from_the_context() -> None:
    # the packages the image's commands import, not the builder's venv (COPY --from)
    # the packages the image's commands import; not the builder's venv (COPY --from) nor the
    # lock files the builder stage copied
    assert context_copies(DOCKERFILE) == ["models/", "store/", "indexer/", "service/", "launcher/"]


def test_sizes_count_files_once_and_links_not_at_all(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"x" * 10)
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "b").write_bytes(b"y" * 5)
    (tmp_path / "link").symlink_to(tmp_path / "a")
    assert tree_bytes(tmp_path) == 15


def test_the_table_adds_the_package_layer_to_each_venv() -> None:
    results = {
        "package_layer_mb": 4.4,
        "variants": {"none": {"venv_mb": 566.0, "largest_mb": {"scipy": 111.8, "onnxruntime": 80.1}}},
    }
    row = markdown(results).splitlines()[2]
    assert row.startswith("| none | 566.0 | 4.4 | **570.4** | scipy 111.8, onnxruntime 80.1")
