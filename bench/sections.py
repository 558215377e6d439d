"""The measuring sections of `python -m bench` that need more than one call: each takes the parsed
flags and the running stack, and returns the section's part of results.json."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def samples(settings: Any) -> tuple[bytes, bytes, str]:
    """One PNG (MNIST test 0), one WAV (the first FSDD validation clip) and that clip's name."""
    from models.data import fsdd_items, load_mnist, mnist_png

    images, _ = load_mnist(settings.data_dir, train=False)
    clip = fsdd_items(settings.data_dir, "validation")[0]
    return mnist_png(images[0]), clip.path.read_bytes(), clip.name


def uploads(settings: Any, n: int) -> tuple[list[bytes], list[bytes]]:
    """The first n MNIST test images as PNG bytes and the first n FSDD validation clips (WAV bytes)."""
    from models.data import fsdd_items, load_mnist, mnist_png

    images, _ = load_mnist(settings.data_dir, train=False)
    clips = fsdd_items(settings.data_dir, "validation")[:n]
    return [mnist_png(image) for image in images[:n]], [clip.path.read_bytes() for clip in clips]


def http(
    args: argparse.Namespace,
    hey: Path,
    settings: Any,
    base_url: str,
    work: Path,
    pids: dict,
    peaks: dict,
    routes: tuple[str, ...] | None = None,
) -> dict:
    """The service's routes under load (`routes`: only those of service_requests' names)."""
    from bench.load import hey_runner, run_matrix
    from bench.resources import merge_peaks
    from bench.service_load import check_requests, service_requests

    png, wav, _ = samples(settings)
    requests = service_requests(base_url, png, wav, work)
    if routes is not None:
        requests = {name: request for name, request in requests.items() if name in routes}
    check = check_requests(requests)
    runners = {name: hey_runner(hey, request) for name, request in requests.items()}
    measured, load_peaks = run_matrix(
        runners, args.concurrency, args.duration, args.repeats, pids, args.warmup
    )
    merge_peaks(peaks, load_peaks)
    return {"duration_s": args.duration, "repeats": args.repeats, "first_answers": check, "routes": measured}


def latency_parts(args: argparse.Namespace, hey: Path, settings: Any, base_url: str, work: Path) -> dict:
    """PNG and WAV at c = 32 (or the largest concurrency asked for, if below), one probe among
    the clients reading each answer's timings (bench.latency_parts), 3 x --duration each."""
    from bench.latency_parts import probe_under_load
    from bench.service_load import service_requests

    png, wav, _ = samples(settings)
    requests = service_requests(base_url, png, wav, work)
    concurrency = 32 if 32 in args.concurrency else max(args.concurrency)
    return {
        route: probe_under_load(hey, requests[route], max(concurrency, 2), 3 * args.duration)
        for route in ("png", "wav")
    }


def ceiling(
    args: argparse.Namespace, hey: Path, settings: Any, collection: Any, work: Path, pids: dict, peaks: dict
) -> dict:
    import store
    from bench.ceiling import check_graphql, weaviate_requests
    from bench.grpc_ceiling import ghz_runner, request_file, weaviate_protos
    from bench.load import hey_runner, install_go_tool, run_matrix
    from bench.resources import merge_peaks
    from bench.stack import weaviate_api_key

    _, _, clip_name = samples(settings)
    vectors = {  # an image's vector searches recordings, a recording's searches images
        "audio": store.get_vector(collection, store.object_uuid("mnist", "test", "0")),
        "image": store.get_vector(collection, store.object_uuid("fsdd", "validation", clip_name)),
    }
    if None in vectors.values():
        raise RuntimeError("the ceiling's query items are not in the index")
    key = weaviate_api_key(settings)
    requests = weaviate_requests(settings.weaviate_port, key, settings.collection, vectors, work)  # type: ignore[arg-type]
    found = check_graphql(requests, settings.collection)
    runners = {name: hey_runner(hey, request) for name, request in requests.items()}
    ghz, protos = install_go_tool("ghz"), weaviate_protos()
    for target, vector in vectors.items():  # the service's own gRPC request, no service
        data = request_file(settings.collection, vector, target, work)  # type: ignore[arg-type]
        runners[f"weaviate_grpc_to_{target}"] = ghz_runner(
            ghz, protos, settings.weaviate_grpc_port, key, data
        )
    routes, load_peaks = run_matrix(runners, args.concurrency, args.duration, args.repeats, pids, args.warmup)
    merge_peaks(peaks, load_peaks)
    return {
        "duration_s": args.duration,
        "repeats": args.repeats,
        "results_per_query": found,
        "routes": routes,
    }


def in_process(args: argparse.Namespace, settings: Any, collection: Any) -> dict:
    from bench.in_process import run_in_process
    from models.runtime import gpu_present, load_encoders

    images, clips = uploads(settings, args.inproc_requests)
    # ONNX Runtime (what CPU serving runs) beside PyTorch on the CPU (what it ran before),
    # and PyTorch on the GPU when there is one.
    engines = [("cpu", "onnx"), ("cpu", "torch")] + ([("cuda", "torch")] if gpu_present() else [])
    return {
        f"{device}-{runtime}": run_in_process(
            load_encoders(settings.checkpoint, device, runtime),
            collection,
            images,
            clips,
            args.inproc_requests,
            args.embed_budget,
            args.inproc_threads,
        )
        for device, runtime in engines
    }


def scale(args: argparse.Namespace, client: Any, settings: Any, collection: Any, w_pid: int) -> dict:
    from bench.recall import stored_vectors
    from bench.scale import Corpus, run_scale

    _, modalities, vectors = stored_vectors(collection)
    return run_scale(
        client,
        settings,
        Corpus(vectors, modalities),
        w_pid,
        args.scale_sizes,
        args.scale_budget,
        args.scale_queries,
        args.scale_ef,
        args.scale_layouts,
    )
