"""Process groups through the Python binding (maml_group_*, since 1.1): a world of one in this
process, the error paths, and a world of two subprocesses on 127.0.0.1."""
import array
import json
import os
import socket
import subprocess
import sys
import textwrap
import unittest

from helpers import REPO_ROOT, batch, tiny_config

import mamlpp

HERE = os.path.dirname(os.path.abspath(__file__))
TORCHRUN_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


def free_port():
    """A TCP port nothing listens on now (the OS picks one for port 0)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


class Environment(object):
    """Sets (str) or removes (None) environment variables, restoring them afterwards. os.environ
    writes through to the C environment that maml_group_join_env reads."""

    def __init__(self, **values):
        self.values = values
        self.saved = {}

    def __enter__(self):
        for k, v in self.values.items():
            self.saved[k] = os.environ.get(k)
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        return self

    def __exit__(self, *exc):
        for k, v in self.saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        return False


class WorldOfOneTest(unittest.TestCase):
    def join(self, **kw):
        return mamlpp.Group.join("127.0.0.1", free_port(), 0, 1, timeout=60, **kw)

    def test_constants_and_status(self):
        self.assertEqual(mamlpp.GROUP_DEFAULT_TIMEOUT, 300.0)
        self.assertEqual(mamlpp.E_DISTRIBUTED, -9)
        self.assertEqual(mamlpp.status_string(mamlpp.E_DISTRIBUTED), "MAML_E_DISTRIBUTED")
        e = mamlpp.errors.ERROR_CLASSES[-9](-9, "peer gone", "maml_group_allreduce_sum")
        self.assertIsInstance(e, mamlpp.DistributedError)
        self.assertIsInstance(e, mamlpp.MamlError)
        self.assertEqual(e.status_name, "MAML_E_DISTRIBUTED")
        with self.assertRaises(mamlpp.DistributedError):
            mamlpp.errors.raise_for_status(-9, "x", "f")

    def test_join_attach_train_allreduce_detach_close(self):
        group = self.join()
        self.assertFalse(group.closed)
        self.assertEqual((group.rank, group.world_size, group.local_rank), (0, 1, 0))
        self.assertIn("rank 0 of 1", repr(group))
        with mamlpp.Model(tiny_config()) as model:
            model.attach(group)
            m = model.meta_train_step(*batch(num_tasks=2, seed=3))
            self.assertEqual(m.step, 1)
            self.assertEqual(model.step, 1)
            # A world of one: the sum over ranks is the values themselves, as a new list.
            values = [1.5, -2.0, 3.25, 1e300]
            self.assertEqual(group.allreduce_sum(values), values)
            self.assertEqual(group.allreduce_sum((1, 2)), [1.0, 2.0])
            self.assertEqual(group.allreduce_sum(array.array("f", [0.5])), [0.5])
            self.assertEqual(group.allreduce_sum([[1.0, 2.0], [3.0, 4.0]]), [1.0, 2.0, 3.0, 4.0])
            if mamlpp.HAVE_NUMPY:
                import numpy as np
                a = np.arange(6, dtype=np.float32).reshape(2, 3)
                out = group.allreduce_sum(a)
                self.assertIsInstance(out, np.ndarray)
                self.assertEqual((out.dtype, out.shape), (np.float64, (2, 3)))
                self.assertTrue((out == a).all())
                self.assertIsNot(out, a)
            model.detach()
            model.detach()  # not attached: not an error
            self.assertEqual(model.meta_train_step(*batch(num_tasks=1, seed=4)).step, 2)
        group.close()
        group.close()  # idempotent
        self.assertTrue(group.closed)
        self.assertIn("closed", repr(group))
        with self.assertRaises(ValueError):
            group.rank
        with self.assertRaises(ValueError):
            group.allreduce_sum([1.0])

    def test_context_manager_and_local_rank(self):
        with self.join(local_rank=3) as group:
            self.assertEqual((group.rank, group.world_size, group.local_rank), (0, 1, 3))
        self.assertTrue(group.closed)

    def test_model_keeps_the_membership_while_attached(self):
        # Closing the Group handle while a model is attached is fine: the model keeps the
        # membership until it is detached or freed, and its steps stay collective (world of one).
        with mamlpp.Model(tiny_config()) as model:
            with self.join() as group:
                model.attach(group)
            self.assertEqual(model.meta_train_step(*batch(num_tasks=1, seed=5)).step, 1)
            model.detach()

    def test_attached_step_equals_a_local_step(self):
        # With one rank, the pooled step is the local step.
        with mamlpp.Model(tiny_config()) as local, mamlpp.Model(tiny_config()) as attached, \
                self.join() as group:
            attached.attach(group)
            for seed in (6, 7):
                a = local.meta_train_step(*batch(num_tasks=2, seed=seed))
                b = attached.meta_train_step(*batch(num_tasks=2, seed=seed))
                self.assertAlmostEqual(a.loss, b.loss, places=5)
            self.assertEqual(local.step, attached.step)
            a, b = local.inner_lrs(), attached.inner_lrs()
            self.assertEqual(list(a), list(b))
            for name in a:
                for x, y in zip(a[name], b[name]):
                    self.assertAlmostEqual(x, y, places=5)

    def test_join_errors(self):
        port = free_port()
        cases = [
            (dict(rank=1), "rank 1"),                   # rank outside [0, world size)
            (dict(rank=-1), "rank"),
            (dict(world_size=0), "world"),
            (dict(master_port=0), "port"),
            (dict(master_port=70000), "port"),
            (dict(local_rank=-2), "local rank"),
            (dict(timeout=0.01), "timeout"),
            (dict(timeout=-1), "timeout"),
            (dict(master_addr=None), "master_addr"),  # NULL: refused by the library
        ]
        for over, needle in cases:
            args = dict(master_addr="127.0.0.1", master_port=port, rank=0, world_size=1,
                        timeout=60)
            args.update(over)
            with self.assertRaises(mamlpp.InvalidArgumentError, msg=repr(over)) as cm:
                mamlpp.Group.join(**args)
            self.assertIn(needle, cm.exception.message, repr(over))
            self.assertEqual(cm.exception.function, "maml_group_join")
        with self.assertRaises(ValueError):  # C strings end at NUL: never silently cut
            mamlpp.Group.join("127.0.0.1\x00x", port, 0, 1)
        with self.assertRaises(TypeError):
            mamlpp.Group.join(b"127.0.0.1", port, 0, 1)
        with self.assertRaises(ValueError):  # would wrap around in int32
            mamlpp.Group.join("127.0.0.1", port, 2 ** 32, 1)
        with self.assertRaises(TypeError):
            mamlpp.Group()

    def test_join_env(self):
        with Environment(RANK=None, WORLD_SIZE=None, LOCAL_RANK=None, MASTER_ADDR=None,
                         MASTER_PORT=None):
            with self.assertRaises(mamlpp.InvalidArgumentError) as cm:
                mamlpp.Group.join_env()
            self.assertIn("RANK", cm.exception.message)
            self.assertEqual(cm.exception.function, "maml_group_join_env")
        env = dict(RANK="0", WORLD_SIZE="1", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(free_port()),
                   LOCAL_RANK=None)
        with Environment(**dict(env, RANK="zero")):
            with self.assertRaises(mamlpp.InvalidArgumentError) as cm:
                mamlpp.Group.join_env(timeout=60)
            self.assertIn("RANK", cm.exception.message)
        with Environment(**env):
            with mamlpp.Group.join_env(timeout=60) as group:
                self.assertEqual((group.rank, group.world_size, group.local_rank), (0, 1, 0))
        with Environment(**dict(env, MASTER_PORT=str(free_port()), LOCAL_RANK="2")):
            with mamlpp.Group.join_env(timeout=None) as group:  # None: the default timeout
                self.assertEqual(group.local_rank, 2)

    def test_use_errors(self):
        with mamlpp.Model(tiny_config()) as model, self.join() as group:
            for bad in ([], ()):
                with self.assertRaises(mamlpp.InvalidArgumentError):  # this rank does not take part
                    group.allreduce_sum(bad)
            for bad in (None, "12", b"\x00" * 8, 5.0, ["x"]):
                with self.assertRaises(TypeError, msg=repr(bad)):
                    group.allreduce_sum(bad)
            with self.assertRaises(TypeError):
                model.attach(None)
            with self.assertRaises(TypeError):
                model.attach(model)
            self.assertEqual(group.allreduce_sum([2.0]), [2.0])  # nothing above broke the group
        with self.assertRaises(ValueError):  # closed handles
            model.attach(group)
        with self.assertRaises(ValueError):
            model.detach()
        with mamlpp.Model(tiny_config()) as other:
            with self.assertRaises(ValueError):
                other.attach(group)


# Run by each rank of TwoProcessesTest: prints one JSON line.
RANK_SCRIPT = textwrap.dedent("""
    import hashlib, json, sys
    from helpers import batch, tiny_config
    import mamlpp
    out = {}
    with mamlpp.Group.join_env(timeout=120) as g:
        out["ranks"] = [g.rank, g.world_size, g.local_rank]
        out["sum"] = g.allreduce_sum([g.rank + 1.0, 2.0])
        with mamlpp.Model(tiny_config()) as m:
            m.attach(g)  # each rank passes its own task: together, a meta-batch of two
            metrics = m.meta_train_step(*batch(num_tasks=1, seed=10 + g.rank))
            out["step"], out["loss"] = metrics.step, metrics.loss
            out["hash"] = hashlib.sha256(m.to_bytes()).hexdigest()
        with mamlpp.Model(tiny_config(seed=100 + g.rank)) as other:
            try:
                other.attach(g)
                out["refused"] = None
            except mamlpp.DistributedError as e:
                out["refused"] = [e.status, e.message]
        out["after"] = g.allreduce_sum([1.0])
    print(json.dumps(out), flush=True)
""")


class TwoProcessesTest(unittest.TestCase):
    def test_two_ranks(self):
        port = free_port()
        procs = []
        for rank in range(2):
            env = dict(os.environ)
            env.update(RANK=str(rank), WORLD_SIZE="2", MASTER_ADDR="127.0.0.1",
                       MASTER_PORT=str(port), OMP_NUM_THREADS="1",
                       PYTHONPATH=os.pathsep.join(
                           [HERE, os.path.join(REPO_ROOT, "bindings", "python")]
                           + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])))
            env.pop("LOCAL_RANK", None)
            procs.append(subprocess.Popen([sys.executable, "-c", RANK_SCRIPT], env=env,
                                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                          universal_newlines=True))
        results = []
        try:
            for rank, p in enumerate(procs):
                stdout, stderr = p.communicate(timeout=240)
                self.assertEqual(p.returncode, 0, "rank %d failed:\n%s%s" % (rank, stdout, stderr))
                results.append(json.loads(stdout.strip().splitlines()[-1]))
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                    p.wait()
        for rank, r in enumerate(results):
            self.assertEqual(r["ranks"], [rank, 2, rank])  # LOCAL_RANK unset: RANK
            self.assertEqual(r["sum"], [3.0, 4.0])
            self.assertEqual(r["step"], 1)
            self.assertEqual(r["after"], [2.0])
            status, message = r["refused"]
            self.assertEqual(status, mamlpp.E_DISTRIBUTED)
            self.assertIn("seed", message)
        # The metrics are global and both ranks took the same step: identical models.
        self.assertEqual(results[0]["loss"], results[1]["loss"])
        self.assertEqual(results[0]["hash"], results[1]["hash"])


if __name__ == "__main__":
    unittest.main()
