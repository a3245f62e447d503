"""A testfarm client in Python, from farm.proto alone: what a Zuul job or a Gerrit
plugin would write. Generates the stubs with grpcio-tools, lists the services by
server reflection, submits a pipeline, streams its events to the verdict, reads the
run's typed record back and prints one JSON line of what it saw.

    python3 farm_client.py --proto proto/farm.proto --coordinator 127.0.0.1:7700 \
        --pipeline tests/fixtures/junit/farm.yaml

Exit 0 whatever the verdict (the caller judges it); 2 on a client error.
"""

import argparse
import importlib
import json
import os
import sys
import tempfile
import uuid


def stubs(proto):
    """Compiles farm.proto into a temporary package and imports it."""
    from grpc_tools import protoc

    out = tempfile.mkdtemp(prefix="farm-stubs-")
    include = os.path.dirname(os.path.abspath(proto))
    # grpc_tools ships the well-known types; farm.proto needs none, but protoc wants
    # its own include path to start.
    wkt = os.path.join(os.path.dirname(protoc.__file__), "_proto")
    code = protoc.main(
        ["protoc", f"-I{include}", f"-I{wkt}", f"--python_out={out}", f"--grpc_python_out={out}", os.path.basename(proto)]
    )
    if code != 0:
        sys.exit(f"protoc failed on {proto} ({code})")
    sys.path.insert(0, out)
    return importlib.import_module("farm_pb2"), importlib.import_module("farm_pb2_grpc")


def services(channel):
    """The services the coordinator names by server reflection."""
    from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

    return sorted(ProtoReflectionDescriptorDatabase(channel).get_services())


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--proto", required=True)
    parser.add_argument("--coordinator", required=True, help="HOST:PORT")
    parser.add_argument("--pipeline", required=True)
    args = parser.parse_args()

    import grpc

    pb, rpc = stubs(args.proto)
    channel = grpc.insecure_channel(args.coordinator)
    grpc.channel_ready_future(channel).result(timeout=10)
    farm = rpc.FarmStub(channel)

    with open(args.pipeline) as f:
        yaml = f.read()
    submitted = farm.Submit(
        pb.SubmitRequest(
            pipeline_yaml=yaml,
            pipeline_path=args.pipeline,
            project_dir=os.path.dirname(os.path.abspath(args.pipeline)),
            mode="gate",
            submitter="python-client",
            submission_id=uuid.uuid4().hex,
        ),
        timeout=30,
    )

    events = 0
    failed_seen = []
    done_before = 0
    verdict = ""
    for event in farm.WatchRun(pb.WatchRunRequest(run_id=submitted.run_id), timeout=120):
        events += 1
        if event.tasks_done < done_before:
            sys.exit(f"progress went back: {event.tasks_done} after {done_before}")
        done_before = event.tasks_done
        failed_seen.extend(event.failed_tests)
        if event.failed_test:
            failed_seen.append(event.failed_test)
        if event.verdict:
            verdict = event.verdict
            break

    record = farm.GetRun(pb.GetRunRequest(run_id=submitted.run_id), timeout=30)
    run = record.run
    results = []
    for task in record.tasks:
        if task.WhichOneof("work") != "shard" or not task.HasField("outcome"):
            continue
        for r in task.outcome.results:
            results.append(
                {
                    "job": run.jobs[task.job].display_name,
                    "id": r.id,
                    "status": pb.TestStatus.Name(r.status),
                    "secs": r.duration_secs,
                }
            )
    print(
        json.dumps(
            {
                "services": services(channel),
                "run_id": submitted.run_id,
                "jobs": submitted.jobs,
                "events": events,
                "stream_verdict": verdict,
                "record_verdict": pb.Verdict.Name(run.verdict),
                "message": run.message,
                "counts": {
                    "total": run.counts.tests_total,
                    "passed": run.counts.tests_passed,
                    "failed": run.counts.tests_failed,
                    "skipped": run.counts.tests_skipped,
                },
                "failed_seen": sorted(set(failed_seen)),
                "results": sorted(results, key=lambda r: (r["job"], r["id"])),
                "pipeline_stages": [s.name for s in run.pipeline.stages],
            }
        )
    )


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # a client error, named, for the Rust test to show
        print(f"farm_client.py: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(2)
