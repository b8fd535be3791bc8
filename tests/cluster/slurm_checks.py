#!/usr/bin/env python3
"""The repository's Slurm batch scripts under a real one-machine Slurm cluster (tools/slurm_local.sh).

Each check starts its own cluster (munged, slurmctld, two slurmd on this host) in a temporary
directory on its own ports, submits cluster/*.sbatch with `sbatch` exactly as a user would (settings
through the environment, CPU instead of GPU through sbatch options), and stops the cluster at the end.
The model is the tiny random-init Gemma-2 shape of train_checks.py on the real pairs and tokenizer.
  train      slurm_1node_8gpu.sbatch, 2 tasks through srun --mpi=pmix: trains, evaluates, checkpoints;
             its metrics and adapters equal the same run under mpirun -np 2
  preempt    scancel --signal=USR1 --batch (the batch shell passes it on), then scancel --signal=USR1 to
             the job steps (what the time-limit warning does): each time the ranks checkpoint and exit 0,
             the script requeues the job, the requeued job resumes; the final adapters, optimizer moments
             and every step's loss equal an uninterrupted run's
  fault      an exception on rank 1: the job ends FAILED, with the rank's message in the Slurm output file
  multinode  slurm_multinode.sbatch on two nodes (two slurmd on this host) x 1 task: equals mpirun -np 2
Usage: slurm_checks.py ARENA_BINARY CHECK
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "launch"))
import train_checks as tc  # noqa: E402  (the tiny model, mpirun and metrics helpers)

SOURCE = tc.SOURCE
ARENA = tc.ARENA
SLURM_LOCAL = os.path.join(SOURCE, "tools", "slurm_local.sh")
TOOL_ARGS = {"-c", "--data", "--tokenizer"}


def tiny_args():
    """train_checks.BASE without the command and the inputs the batch script passes itself."""
    out, skip = [], False
    for a in tc.BASE[1:]:
        if skip:
            skip = False
        elif a in TOOL_ARGS:
            skip = True
        else:
            out.append(a)
    return out


class Cluster:
    def __init__(self, tmp):
        self.dir = os.path.join(tmp, "slurm")
        # Ports of its own (not the default 16817 of tools/slurm_local.sh), so a cluster a developer
        # left running does not collide with the test's.
        self.env = {**os.environ, "ARENA_SLURM_DIR": self.dir, "SLURM_PORT": "16917", "ARENA_SLURM_NODES": "2",
                    "SLURM_CONF": os.path.join(self.dir, "slurm.conf")}

    def __enter__(self):
        p = subprocess.run([SLURM_LOCAL, "start"], env=self.env, capture_output=True, text=True, timeout=600)
        if p.returncode != 0:
            tc.fail(f"slurm_local.sh start failed:\n{p.stdout}\n{p.stderr}")
        print(p.stdout.strip().splitlines()[0])
        return self

    def __exit__(self, *exc):
        subprocess.run([SLURM_LOCAL, "stop"], env=self.env, capture_output=True, text=True, timeout=120)

    def sbatch(self, script, sbatch_opts, env, args=()):
        cmd = ["sbatch", "--parsable"] + sbatch_opts + [os.path.join(SOURCE, "cluster", script)] + list(args)
        p = subprocess.run(cmd, env={**self.env, **env}, capture_output=True, text=True, cwd=SOURCE, timeout=60)
        if p.returncode != 0:
            tc.fail(f"{' '.join(cmd)}: {p.stderr}")
        return p.stdout.strip().split(";")[0]

    def job(self, job_id):
        p = subprocess.run(["scontrol", "show", "job", "-o", job_id], env=self.env, capture_output=True, text=True)
        return dict(re.findall(r"(\w+)=(\S*)", p.stdout))

    def scancel(self, *args):
        subprocess.run(["scancel", *args], env=self.env, check=True, timeout=30)

    def wait(self, job_id, states=("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY"),
             timeout=300):
        deadline = time.time() + timeout
        while time.time() < deadline:
            info = self.job(job_id)
            if info.get("JobState") in states:
                return info
            time.sleep(0.5)
        tc.fail(f"job {job_id} not done within {timeout} s: {self.job(job_id)}")


def job_env(run_dir, extra_args, **more):
    return {"ARENA_BIN": ARENA, "CONFIG": os.path.join(SOURCE, "configs", "cpu-tiny.toml"), "MODEL": "",
            "DATA": os.path.join(tc.SHARED, "data", "autoj-pairwise.jsonl"),
            "TOKENIZER": os.path.join(tc.SHARED, "gemma", "tokenizer.model"), "RUN_DIR": run_dir,
            "EXTRA_ARGS": " ".join(tiny_args() + extra_args), "OMP_NUM_THREADS": "1", **more}


def cpu_opts(tmp, nodes, tasks_per_node):
    """What a user overrides to run the GPU scripts on CPU nodes: counts, no GPUs, memory, output file."""
    return [f"--nodes={nodes}", f"--ntasks-per-node={tasks_per_node}", "--cpus-per-task=1", "--gpus-per-node=0",
            "--mem=1G", f"--output={tmp}/slurm-%j.out"]


def output(tmp, job_id):
    with open(os.path.join(tmp, f"slurm-{job_id}.out")) as f:
        return f.read()


def reference(tmp, extra_args, name="mpirun"):
    out = os.path.join(tmp, name)
    tc.run(tiny_base() + ["--out", out] + extra_args, ranks=2)
    return out


def tiny_base():
    return ["train", "-c", os.path.join(SOURCE, "configs", "cpu-tiny.toml"),
            "--data", os.path.join(tc.SHARED, "data", "autoj-pairwise.jsonl"),
            "--tokenizer", os.path.join(tc.SHARED, "gemma", "tokenizer.model")] + tiny_args()


def same_run(a, b, last_step, what):
    ma = {r["step"]: r for r in tc.metrics(a)}
    mb = {r["step"]: r for r in tc.metrics(b)}
    if sorted(ma) != list(range(1, last_step + 1)) or sorted(mb) != sorted(ma):
        fail_steps = (sorted(ma)[-3:], sorted(mb)[-3:])
        tc.fail(f"{what}: steps {fail_steps[0]} vs {fail_steps[1]}, expected 1..{last_step}")
    for s in ma:
        for key in ("loss", "grad_norm", "lr", "rows"):
            if ma[s][key] != mb[s][key]:
                tc.fail(f"{what}: step {s} {key}: {ma[s][key]} vs mpirun {mb[s][key]}")
    last = f"step-{last_step:08d}.h5"
    for obj in ("/trainable", "/optimizer"):
        tc.h5diff(os.path.join(a, "checkpoints", last), os.path.join(b, "checkpoints", last), obj)
    for split in ("val", "test"):
        ea = [r for r in tc.metrics(a, "eval") if r["split"] == split][-1]
        eb = [r for r in tc.metrics(b, "eval") if r["split"] == split][-1]
        if ea["log_loss"] != eb["log_loss"] or ea["accuracy"] != eb["accuracy"]:
            tc.fail(f"{what}: {split} eval {ea} vs mpirun {eb}")


# Open MPI 4.1.4 (Debian 12) crashes now and then inside its TCP BTL, which carries the ranks of two
# Slurm nodes: a 15-line C program that only initializes, all-reduces and finalizes does it too
# (docs/reliability.md). Its signal handler's backtrace then names the BTL's shared object.
OMPI_TCP_BTL_CRASH = re.compile(r"Segmentation fault.*?mca_btl_tcp\.so", re.S)


def check_train(tmp, script="slurm_1node_8gpu.sbatch", nodes=1, per_node=2):
    steps = 6
    extra = ["--steps", str(steps), "--train.eval_every", "3", "--train.checkpoint_every", "3"]
    with Cluster(tmp) as c:
        for attempt in (1, 2):
            run_dir = os.path.join(tmp, f"slurm-run-{attempt}")
            job_id = c.sbatch(script, cpu_opts(tmp, nodes, per_node), job_env(run_dir, extra))
            info = c.wait(job_id)
            text = output(tmp, job_id)
            if info["JobState"] == "COMPLETED" and info["ExitCode"] == "0:0":
                break
            if attempt == 1 and nodes > 1 and OMPI_TCP_BTL_CRASH.search(text):
                # One retry for that crash only: any other failure, or the same one twice, fails the check.
                print(f"NOTE: job {job_id} crashed inside Open MPI's TCP BTL (mca_btl_tcp.so in the backtrace); "
                      f"running it once more:\n{text[-1500:]}")
                continue
            tc.fail(f"job {job_id}: {info.get('JobState')} exit {info.get('ExitCode')}\n{text[-3000:]}")
        if "train: 2 ranks (mpi backend" not in text or text.count("train: ") != 1:
            tc.fail(f"expected one 'train: 2 ranks' line (rank 0 of a 2-rank world):\n{text[-3000:]}")
        node_list = info.get("NodeList", "?")
    same_run(run_dir, reference(tmp, extra), steps, f"{script} under sbatch")
    print(f"OK: sbatch {script} ({nodes} node(s) [{node_list}] x {per_node} task(s), srun --mpi=pmix): COMPLETED; "
          f"{steps} steps, eval and checkpoints equal to mpirun -np 2 (losses, adapters, optimizer, eval: exact)")


def wait_steps(run_dir, n, job_id, c, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        path = os.path.join(run_dir, "metrics.jsonl")
        if os.path.exists(path) and len(tc.metrics(run_dir)) >= n:
            return
        if c.job(job_id).get("JobState") in ("COMPLETED", "FAILED", "CANCELLED"):
            tc.fail(f"job {job_id} ended before step {n}")
        time.sleep(0.1)
    tc.fail(f"job {job_id}: no step {n} within {timeout} s")


def stops(run_dir):
    return [r for r in tc.metrics(run_dir, "stopped")]


def wait_stop_and_restart(c, job_id, run_dir, count, timeout=120):
    """Waits until the job wrote its count-th `stopped` record and Slurm started it again."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        info = c.job(job_id)
        if len(stops(run_dir)) >= count and int(info.get("Restarts", 0)) >= count and info["JobState"] == "RUNNING":
            return time.time()
        if info.get("JobState") in ("COMPLETED", "FAILED", "CANCELLED"):
            tc.fail(f"job {job_id} ended ({info['JobState']}) instead of being requeued after stop {count}")
        time.sleep(0.2)
    tc.fail(f"job {job_id}: stop {count} and restart not seen within {timeout} s: {c.job(job_id)}")


def check_preempt(tmp):
    steps = 600
    extra = ["--steps", str(steps), "--train.eval_every", "0", "--train.checkpoint_every", "100000",
             "--lora.dropout", "0.1"]
    run_dir = os.path.join(tmp, "slurm-run")
    with Cluster(tmp) as c:
        job_id = c.sbatch("slurm_1node_8gpu.sbatch", cpu_opts(tmp, 1, 2), job_env(run_dir, extra))
        # 1. The batch shell gets SIGUSR1 (scancel --batch): its trap passes it to srun, srun to the tasks.
        wait_steps(run_dir, 3, job_id, c)
        t0 = time.time()
        c.scancel("--signal=USR1", "--batch", job_id)
        t1 = wait_stop_and_restart(c, job_id, run_dir, 1)
        first = stops(run_dir)[0]["step"]
        # 2. The job steps get SIGUSR1 (as from #SBATCH --signal=USR1@120 at the time limit).
        wait_steps(run_dir, first + 3, job_id, c)
        t3 = time.time()
        c.scancel("--signal=USR1", job_id)
        t2 = wait_stop_and_restart(c, job_id, run_dir, 2)
        second = stops(run_dir)[1]["step"]
        info = c.wait(job_id)
        text = output(tmp, job_id)
    if info["JobState"] != "COMPLETED" or info["ExitCode"] != "0:0" or info.get("Restarts") != "2":
        tc.fail(f"job {job_id}: {info.get('JobState')} exit {info.get('ExitCode')} restarts {info.get('Restarts')}"
                f"\n{text[-4000:]}")
    for want in ("batch shell got a stop signal", "requeueing job", "restart 1 ", "restart 2 ", "(resuming)"):
        if want not in text:
            tc.fail(f"'{want}' missing from the Slurm output file:\n{text[-4000:]}")
    if not first < second < steps:
        tc.fail(f"stops at steps {first} and {second} of {steps}")
    for s in (first, second):  # (train.keep_checkpoints prunes them later: the log says they were written)
        if f"checkpoint: {run_dir}/checkpoints/step-{s:08d}.h5" not in text:
            tc.fail(f"no checkpoint written at the stop step {s}:\n{text[-4000:]}")
    same_run(run_dir, reference(tmp, extra), steps, "stopped twice, requeued and resumed")
    print(f"OK: scancel --signal=USR1 --batch -> stop at step {first}, checkpoint, requeue, resumed "
          f"({t1 - t0:.1f} s from signal to restart); scancel --signal=USR1 (the steps) -> stop at step {second}, "
          f"requeue, resumed ({t2 - t3:.1f} s); COMPLETED after 2 restarts; all {steps} losses, adapters and optimizer moments "
          "equal to one uninterrupted mpirun -np 2 run (LoRA dropout 0.1)")


def check_fault(tmp):
    run_dir = os.path.join(tmp, "slurm-run")
    with Cluster(tmp) as c:
        t0 = time.time()
        job_id = c.sbatch("slurm_1node_8gpu.sbatch", cpu_opts(tmp, 1, 2),
                          job_env(run_dir, ["--steps", "50"], ARENA_FAULT="1:2:throw"))
        info = c.wait(job_id, timeout=120)
        secs = time.time() - t0
        text = output(tmp, job_id)
    if info["JobState"] != "FAILED" or info["ExitCode"] == "0:0":
        tc.fail(f"job {job_id} with a failing rank: {info.get('JobState')} exit {info.get('ExitCode')}\n{text[-3000:]}")
    if "rank 1/2" not in text or "injected fault at step 2" not in text:
        tc.fail(f"the failing rank's message is not in the Slurm output file:\n{text[-3000:]}")
    if "requeueing" in text:
        tc.fail("a failed job was requeued")
    print(f"OK: rank 1 threw at step 2: job {job_id} FAILED (exit {info['ExitCode']}) in {secs:.1f} s from "
          "submission, the rank's message in the Slurm output file, not requeued")


def main():
    check = sys.argv[2]
    tmp = tempfile.mkdtemp(prefix=f"arena-slurm-{check}-")
    checks = {"train": check_train, "preempt": check_preempt, "fault": check_fault,
              "multinode": lambda t: check_train(t, "slurm_multinode.sbatch", nodes=2, per_node=1)}
    if shutil.which("sbatch") is None and os.geteuid() != 0 and shutil.which("sudo") is None:
        tc.fail("Slurm is not installed and this user cannot install it (tools/slurm_local.sh start needs root or sudo)")
    try:
        if check not in checks:
            tc.fail(f"unknown check {check}")
        checks[check](tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
