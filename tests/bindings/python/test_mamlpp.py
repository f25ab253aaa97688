"""Tests of the Python binding over the real libmamlpp (tiny models, CPU, one thread)."""
import array
import gc
import math
import os
import pickle
import re
import shutil
import tempfile
import threading
import unittest
import weakref

import helpers
from helpers import C, H, N_WAY, PIX, W, batch, images, tiny_config

import mamlpp
from mamlpp import core

try:
    import numpy as np
except ImportError:
    np = None


def argmax_rows(logits, k):
    return [max(range(k), key=lambda c: logits[i * k + c]) for i in range(len(logits) // k)]


class TempDirMixin(object):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="mamlpp-py-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)


class LibraryTest(unittest.TestCase):
    def test_versions(self):
        self.assertEqual(mamlpp.abi_version(), mamlpp.ABI_VERSION)
        self.assertEqual(mamlpp.ABI_VERSION, 1)
        major, minor, patch = (int(p) for p in mamlpp.version().split("."))
        self.assertEqual(mamlpp.version_number(), major * 10000 + minor * 100 + patch)
        self.assertGreaterEqual(mamlpp.cuda_device_count(), 0)

    def test_binding_version_is_the_headers(self):
        # The binding mirrors one header: __version__ and pyproject.toml carry its version.
        with open(os.path.join(helpers.REPO_ROOT, "include", "mamlpp", "mamlpp.h")) as f:
            header = f.read()
        parts = [re.search(r"#define MAMLPP_VERSION_%s (\d+)" % p, header).group(1)
                 for p in ("MAJOR", "MINOR", "PATCH")]
        self.assertEqual(mamlpp.__version__, ".".join(parts))
        with open(os.path.join(helpers.REPO_ROOT, "bindings", "python", "pyproject.toml")) as f:
            self.assertIn('\nversion = "%s"\n' % mamlpp.__version__, f.read())

    def test_set_cuda_deterministic(self):
        # Process-wide, never fails, no effect on CPU models: callable both ways, and a CPU model
        # still trains after each. Left at the default (deterministic) afterwards.
        sx, sy, qx, qy = batch(num_tasks=1)
        try:
            for deterministic in (False, True, 0, 1):
                self.assertIsNone(mamlpp.set_cuda_deterministic(deterministic))
                with mamlpp.Model(tiny_config()) as m:
                    self.assertTrue(math.isfinite(m.meta_train_step(sx, sy, qx, qy).loss))
        finally:
            mamlpp.set_cuda_deterministic(True)

    def test_cuda_memory(self):
        with self.assertRaises(mamlpp.InvalidArgumentError):
            mamlpp.cuda_memory(-1)
        with self.assertRaises(mamlpp.DeviceError) as cm:
            mamlpp.cuda_memory(mamlpp.cuda_device_count())
        self.assertIn("CUDA", str(cm.exception))
        if mamlpp.cuda_device_count() > 0:
            current, peak = mamlpp.cuda_memory(0, reset_peak=True)
            self.assertTrue(0 <= current <= peak)
            self.assertEqual(mamlpp.cuda_memory(0), (current, current))

    def test_status_strings(self):
        self.assertEqual(mamlpp.status_string(0), "MAML_OK")
        self.assertEqual(mamlpp.status_string(mamlpp.E_FORMAT), "MAML_E_FORMAT")
        self.assertEqual(mamlpp.status_string(-99), "unknown status")
        for status, cls in mamlpp.errors.ERROR_CLASSES.items():
            self.assertEqual(mamlpp.status_string(status), mamlpp.errors.STATUS_NAMES[status])
            self.assertTrue(issubclass(cls, mamlpp.MamlError))


class ConfigTest(unittest.TestCase):
    def test_defaults_are_the_library_defaults(self):
        c = mamlpp.Config()
        # The paper's Omniglot 5-way 1-shot values, as mamlpp.h documents them.
        self.assertEqual((c.n_way, c.image_channels, c.image_height, c.image_width), (5, 1, 28, 28))
        self.assertEqual((c.num_stages, c.num_filters, c.inner_steps), (4, 64, 5))
        self.assertAlmostEqual(c.inner_lr, 0.1, places=6)
        self.assertEqual(c.device_type, mamlpp.DEVICE_AUTO)
        self.assertEqual(c._c.struct_size, core.ctypes.sizeof(mamlpp._native.maml_config))

    def test_documented_defaults_are_the_librarys(self):
        # Every settable field is documented, ending in its default in parentheses (the first
        # value before a ';'), which must be what the library fills in.
        c = mamlpp.Config()
        settable = [n for n in mamlpp.Config.field_names() if not n.startswith("reserved")]
        self.assertEqual(sorted(mamlpp._native.CONFIG_FIELD_DOCS), sorted(settable))
        for name in settable:
            doc = getattr(mamlpp.Config, name).__doc__
            with self.subTest(field=name, doc=doc):
                m = re.search(r"\(([^()]*)\)$", doc)
                self.assertTrue(m, "the doc does not end in (default)")
                if name == "hidden_sizes":  # the one array field: its default is a list
                    want = [int(v) for v in m.group(1).split(",")]
                    self.assertEqual(getattr(c, name), want)
                    continue
                token = m.group(1).split(";")[0].strip()
                want = getattr(mamlpp, token) if token.isupper() else float(token)
                self.assertAlmostEqual(getattr(c, name), want, places=7)

    def test_grad_clip_lslr(self):
        c = mamlpp.Config()
        self.assertEqual((c.grad_clip, c.grad_clip_lslr), (0.0, 0))
        self.assertIn("inner rates", mamlpp.Config.grad_clip_lslr.__doc__)
        # The whole mirror reaches the library and comes back: grad_clip_lslr lies past the 1.0
        # struct, which is all the library would read if the binding passed the 1.0 size.
        for lslr in (0, 1):
            with mamlpp.Model(tiny_config(grad_clip=10.0, grad_clip_lslr=lslr)) as m:
                self.assertEqual((m.config.grad_clip, m.config.grad_clip_lslr), (10.0, lslr))
                self.assertTrue(math.isfinite(m.meta_train_step(*batch(num_tasks=1)).loss))

    def test_adapt_last_layers(self):
        # Since 1.2, in the slot 1.1 named reserved2 (which the mirror no longer has).
        c = mamlpp.Config()
        self.assertEqual(c.adapt_last_layers, 0)
        self.assertNotIn("reserved2", mamlpp.Config.field_names())
        names = mamlpp.Config.field_names()
        self.assertEqual(names[names.index("grad_clip_lslr") + 1], "adapt_last_layers")
        self.assertEqual(names[names.index("adapt_last_layers") + 1], "backbone")  # 1.3's first
        self.assertIn("ANIL", mamlpp.Config.adapt_last_layers.__doc__)
        stages = tiny_config().num_stages
        # 0 = every layer, up to num_stages + 1 = every layer counted one by one; the value comes
        # back from the library unchanged and the model trains and adapts.
        for k in (0, 1, stages + 1):
            with mamlpp.Model(tiny_config(adapt_last_layers=k)) as m:
                self.assertEqual(m.config.adapt_last_layers, k)
                sx, sy, qx, qy = batch(num_tasks=1)
                self.assertTrue(math.isfinite(m.meta_train_step(sx, sy, qx, qy).loss))
                with m.adapt(sx, [v for row in sy for v in row]) as learner:
                    labels, _ = learner.predict(qx)
                    self.assertEqual(len(labels), len(qy[0]))
        # Head only: the inner-rate table has rows for the head's weight and bias alone.
        with mamlpp.Model(tiny_config(adapt_last_layers=1)) as m:
            table = m.inner_lrs()
            self.assertEqual(sorted(table), ["backbone.head.bias", "backbone.head.weight"])
            for rates in table.values():
                self.assertEqual(len(rates), m.config.inner_steps)
        with mamlpp.Model(tiny_config()) as m:
            self.assertGreater(len(m.inner_lrs()), 2)  # 0: every layer's tensors
        # Out of range is the library's refusal, naming the field.
        for bad in (-1, stages + 2):
            with self.subTest(adapt_last_layers=bad):
                with self.assertRaises(mamlpp.InvalidArgumentError) as cm:
                    mamlpp.Model(tiny_config(adapt_last_layers=bad))
                self.assertEqual(cm.exception.status, mamlpp.E_INVALID_ARGUMENT)
                self.assertIn("adapt_last_layers", cm.exception.message)

    def test_kwargs_replace_copy_eq(self):
        c = mamlpp.Config(n_way=7, num_filters=16, inner_lr=0.5)
        self.assertEqual((c.n_way, c.num_filters, c.inner_lr), (7, 16, 0.5))
        d = c.replace(n_way=2)
        self.assertEqual((d.n_way, c.n_way), (2, 7))
        e = c.copy()
        self.assertEqual(e, c)
        e.seed = 99
        self.assertNotEqual(e, c)
        self.assertEqual(list(c.to_dict()), list(mamlpp.Config.field_names()))
        self.assertIn("n_way=7", repr(c))
        self.assertIn("classes per task", mamlpp.Config.n_way.__doc__)
        self.assertEqual(pickle.loads(pickle.dumps(c)), c)
        with self.assertRaises(TypeError):
            mamlpp.Model({"n_way": 5})

    def test_unknown_and_mistyped_fields(self):
        with self.assertRaises(AttributeError):
            mamlpp.Config(n_ways=5)
        c = mamlpp.Config()
        with self.assertRaises(AttributeError):
            c.struct_size = 3
        with self.assertRaises(TypeError):
            c.n_way = 2.5

    def test_validation_is_the_librarys(self):
        with self.assertRaises(mamlpp.InvalidArgumentError) as cm:
            mamlpp.Model(tiny_config(n_way=0))
        e = cm.exception
        self.assertIsInstance(e, mamlpp.MamlError)
        self.assertIsInstance(e, ValueError)
        self.assertEqual(e.status, mamlpp.E_INVALID_ARGUMENT)
        self.assertEqual(e.status_name, "MAML_E_INVALID_ARGUMENT")
        self.assertEqual(e.function, "maml_create")
        self.assertTrue(e.message)
        self.assertIn(e.message, str(e))


class ModelTest(TempDirMixin, unittest.TestCase):
    def setUp(self):
        super().setUp()
        self.model = mamlpp.Model(tiny_config())

    def tearDown(self):
        self.model.close()
        super().tearDown()

    def test_queries(self):
        m = self.model
        self.assertEqual(m.step, 0)
        self.assertEqual(m.device, "cpu")
        self.assertGreater(m.num_parameters, 0)
        self.assertEqual(m.config, tiny_config())
        self.assertEqual(m.image_shape, (C, H, W))
        self.assertIn("3-way", repr(m))
        self.assertEqual(mamlpp.Model(n_way=2, image_height=8, image_width=8, num_stages=1,
                                      num_filters=2, device_type=mamlpp.DEVICE_CPU).config.n_way, 2)

    def test_meta_train_step_and_evaluate(self):
        m = self.model
        sx, sy, qx, qy = batch(num_tasks=2)
        r = m.meta_train_step(sx, sy, qx, qy)
        self.assertIsInstance(r, mamlpp.Metrics)
        self.assertTrue(math.isfinite(r.loss))
        self.assertTrue(0.0 <= r.accuracy <= 1.0)
        self.assertEqual((r.step, m.step), (1, 1))
        self.assertIsInstance(r.second_order, bool)
        e1 = m.evaluate(sx, sy, qx, qy)
        e2 = m.evaluate(sx, sy, qx, qy)
        self.assertEqual(m.step, 1)  # evaluation does not train
        self.assertEqual(e1, e2)
        # Flat labels with an explicit task count mean the same meta-batch.
        flat_sy = [v for row in sy for v in row]
        flat_qy = [v for row in qy for v in row]
        self.assertEqual(m.evaluate(sx, flat_sy, qx, flat_qy, num_tasks=2), e1)

    def test_batch_sizes_are_checked_before_the_call(self):
        sx, sy, qx, qy = batch(num_tasks=2)
        with self.assertRaises(ValueError):
            self.model.meta_train_step(sx[:-1], sy, qx, qy)  # one float short
        with self.assertRaises(ValueError):
            self.model.meta_train_step(sx, sy, qx, qy, num_tasks=4)  # 6 labels, not a multiple of 4
        self.assertEqual(self.model.step, 0)

    def test_library_rejects_bad_labels(self):
        sx, sy, qx, qy = batch(num_tasks=1)
        sy[0][0] = N_WAY  # out of range
        with self.assertRaises(mamlpp.InvalidArgumentError) as cm:
            self.model.meta_train_step(sx, sy, qx, qy)
        self.assertEqual(cm.exception.function, "maml_meta_train_step")
        self.assertEqual(self.model.step, 0)

    def test_adapt_predict(self):
        sx = images(3)
        with self.model.adapt(sx, [0, 1, 2]) as learner:
            self.assertEqual(learner.n_way, N_WAY)
            self.assertEqual(learner.image_shape, (C, H, W))
            q = images(4, seed=5)
            labels, logits = learner.predict(q)
            self.assertIsInstance(labels, array.array)
            self.assertIsInstance(logits, array.array)
            self.assertEqual(len(labels), 4)
            self.assertEqual(len(logits), 4 * N_WAY)
            self.assertEqual(list(labels), argmax_rows(logits, N_WAY))
            # explicit n reads only the first n examples
            p2 = learner.predict(q, n=2)
            self.assertEqual(list(p2.labels), list(labels[:2]))
            self.assertEqual(list(p2.logits), list(logits[:2 * N_WAY]))
            with self.assertRaises(ValueError):
                learner.predict(q, n=5)  # more than the buffer holds
            with self.assertRaises(ValueError):
                learner.predict(q[:-1])  # not a whole number of images
        self.assertTrue(learner.closed)
        with self.assertRaises(ValueError):
            learner.predict(q)

    def test_nan_input_is_numerical_error(self):
        with self.model.adapt(images(3), [0, 1, 2]) as learner:
            q = images(1)
            q[0] = float("nan")
            with self.assertRaises(mamlpp.NumericalError) as cm:
                learner.predict(q)
            self.assertEqual(cm.exception.status, mamlpp.E_NUMERICAL)
            self.assertIsInstance(cm.exception, ArithmeticError)

    def test_adapt_tasks_matches_adapt(self):
        sx, sy, _, _ = batch(num_tasks=2)
        learners = self.model.adapt_tasks(sx, sy)
        self.assertEqual(len(learners), 2)
        q = images(2, seed=9)
        for t, learner in enumerate(learners):
            single = self.model.adapt(sx[t * 3 * PIX:(t + 1) * 3 * PIX], sy[t])
            a, b = learner.predict(q).logits, single.predict(q).logits
            for u, v in zip(a, b):
                self.assertAlmostEqual(u, v, places=4)
            single.close()
            learner.close()

    def test_learner_outlives_model(self):
        m = mamlpp.Model(tiny_config())
        learner = m.adapt(images(3), [0, 1, 2])
        before = learner.predict(images(2)).logits
        m.close()
        del m
        gc.collect()
        self.assertEqual(learner.predict(images(2)).logits, before)
        learner.close()

    def test_save_load_file_and_bytes(self):
        m = self.model
        sx, sy, qx, qy = batch()
        m.meta_train_step(sx, sy, qx, qy)
        path = os.path.join(self.tmp, "m.maml")
        m.save(path)
        with open(path, "rb") as f:
            on_disk = f.read()
        self.assertEqual(m.to_bytes(), on_disk)  # byte for byte what save writes
        slim = os.path.join(self.tmp, "slim.maml")
        m.save(slim, inference_only=True)
        self.assertLess(os.path.getsize(slim), len(on_disk))
        self.assertEqual(len(m.to_bytes(inference_only=True)), os.path.getsize(slim))

        q = images(3, seed=3)
        ref = m.adapt(images(3), [0, 1, 2]).predict(q)
        for loaded in (mamlpp.Model.load(path, device="cpu"),
                       mamlpp.Model.load(slim, device=mamlpp.DEVICE_CPU),
                       mamlpp.Model.from_bytes(on_disk, device="cpu"),
                       mamlpp.Model.from_bytes(bytearray(on_disk)),
                       mamlpp.Model.from_bytes(memoryview(on_disk))):
            with loaded:
                # device_type is the one asked of load (AUTO stays AUTO); the rest is the file's.
                self.assertEqual(loaded.config.replace(device_type=0), m.config.replace(device_type=0))
                self.assertEqual(loaded.device, "cpu")
                with loaded.adapt(images(3), [0, 1, 2]) as learner:
                    self.assertEqual(learner.predict(q), ref)
        with mamlpp.Model.load(path) as resumed:
            self.assertEqual(resumed.step, 1)

    def test_load_errors(self):
        with self.assertRaises(mamlpp.MamlIOError) as cm:
            mamlpp.Model.load(os.path.join(self.tmp, "missing.maml"))
        self.assertIsInstance(cm.exception, OSError)
        self.assertEqual(cm.exception.status, mamlpp.E_IO)
        bad = os.path.join(self.tmp, "bad.maml")
        with open(bad, "wb") as f:
            f.write(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}......")
        with self.assertRaises(mamlpp.FormatError) as cm:
            mamlpp.Model.load(bad)
        self.assertEqual(cm.exception.status_name, "MAML_E_FORMAT")
        with self.assertRaises(mamlpp.FormatError):
            mamlpp.Model.from_bytes(self.model.to_bytes()[:-10])
        with self.assertRaises(ValueError):
            mamlpp.Model.load(bad, device="tpu")

    def test_inner_lrs(self):
        table = self.model.inner_lrs()
        self.assertIn("backbone.head.weight", table)
        self.assertIn("backbone.stage0.conv.weight", table)
        self.assertEqual(len(table), 2 * 2 + 2)  # (weight, bias) per stage and head
        for name, rates in table.items():
            self.assertEqual(len(rates), tiny_config().inner_steps)
            for r in rates:
                self.assertAlmostEqual(r, 0.1, places=6)  # inner_lr before training

    def test_threads_share_a_learner(self):
        learner = self.model.adapt(images(3), [0, 1, 2])
        q = images(4, seed=11)
        ref = learner.predict(q)
        results, errors = [], []

        def work():
            try:
                for _ in range(5):
                    results.append(learner.predict(q))
            except Exception as e:  # pragma: no cover - reported below
                errors.append(e)

        threads = [threading.Thread(target=work) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        self.assertEqual(len(results), 20)
        for r in results:
            self.assertEqual(r, ref)
        learner.close()


    def test_threads_adapt_one_model(self):
        q = images(2, seed=13)
        with self.model.adapt(images(3), [0, 1, 2]) as learner:
            ref = learner.predict(q)
        results, errors = [], []

        def work():
            try:
                for _ in range(3):
                    with self.model.adapt(images(3), [0, 1, 2]) as learner:
                        results.append(learner.predict(q))
            except Exception as e:  # pragma: no cover - reported below
                errors.append(e)

        threads = [threading.Thread(target=work) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        self.assertEqual(len(results), 9)
        for r in results:
            self.assertEqual(r, ref)


class LifetimeTest(unittest.TestCase):
    """Handles are freed exactly once: by close(), by a with block, or by the garbage collector."""

    def setUp(self):
        self.freed = {"model": [], "learner": []}
        self.orig = (mamlpp.Model._free, mamlpp.Learner._free)
        orig_model, orig_learner = self.orig

        def free_model(p):
            self.freed["model"].append(p.value)
            orig_model(p)

        def free_learner(p):
            self.freed["learner"].append(p.value)
            orig_learner(p)

        mamlpp.Model._free = staticmethod(free_model)
        mamlpp.Learner._free = staticmethod(free_learner)

    def tearDown(self):
        mamlpp.Model._free, mamlpp.Learner._free = self.orig

    def test_close_is_idempotent(self):
        m = mamlpp.Model(tiny_config())
        self.assertFalse(m.closed)
        m.close()
        m.close()
        self.assertTrue(m.closed)
        self.assertEqual(len(self.freed["model"]), 1)
        with self.assertRaises(ValueError):
            m.step
        self.assertIn("closed", repr(m))
        del m
        gc.collect()
        self.assertEqual(len(self.freed["model"]), 1)

    def test_context_managers(self):
        with mamlpp.Model(tiny_config()) as m:
            with m.adapt(images(3), [0, 1, 2]) as learner:
                learner.predict(images(1))
            self.assertTrue(learner.closed)
            self.assertEqual(len(self.freed["learner"]), 1)
        self.assertTrue(m.closed)
        self.assertEqual(len(self.freed["model"]), 1)

    def test_context_manager_frees_on_exception(self):
        with self.assertRaises(RuntimeError):
            with mamlpp.Model(tiny_config()) as m:
                raise RuntimeError("boom")
        self.assertTrue(m.closed)
        self.assertEqual(len(self.freed["model"]), 1)

    def test_garbage_collection_frees_once(self):
        m = mamlpp.Model(tiny_config())
        learners = m.adapt_tasks(*batch(num_tasks=3)[:2])
        ptrs = sorted(learner._ptr.value for learner in learners)
        refs = [weakref.ref(m)] + [weakref.ref(learner) for learner in learners]
        del m, learners
        gc.collect()
        self.assertTrue(all(r() is None for r in refs))
        self.assertEqual(len(self.freed["model"]), 1)
        self.assertEqual(sorted(self.freed["learner"]), ptrs)

    def test_reference_cycle_is_collected(self):
        m = mamlpp.Model(tiny_config())
        holder = {"model": m}
        holder["self"] = holder
        ref = weakref.ref(m)
        del m, holder
        gc.collect()
        self.assertIsNone(ref())
        self.assertEqual(len(self.freed["model"]), 1)

    def test_learner_constructor_is_private(self):
        with self.assertRaises(TypeError):
            mamlpp.Learner()


class ErrorTest(unittest.TestCase):
    def test_attributes_and_pickle(self):
        e = mamlpp.errors.ERROR_CLASSES[mamlpp.E_DEVICE](mamlpp.E_DEVICE, "no GPU", "maml_load")
        self.assertIsInstance(e, mamlpp.DeviceError)
        self.assertEqual((e.status, e.status_name, e.message, e.function),
                         (-4, "MAML_E_DEVICE", "no GPU", "maml_load"))
        f = pickle.loads(pickle.dumps(e))
        self.assertEqual((type(f), f.status, f.message, str(f)), (type(e), e.status, e.message, str(e)))
        g = mamlpp.MamlError(-42, "odd")
        self.assertEqual(g.status_name, "unknown status")

    def test_message_is_per_call(self):
        with self.assertRaises(mamlpp.MamlError) as cm:
            mamlpp.Model.load("/nonexistent/dir/x.maml")
        self.assertIn("/nonexistent/dir/x.maml", cm.exception.message)


class AdaptedFixture(unittest.TestCase):
    """A tiny model adapted to 3 images, 2 query images and their reference prediction."""

    @classmethod
    def setUpClass(cls):
        cls.model = mamlpp.Model(tiny_config())
        cls.learner = cls.model.adapt(images(3), [0, 1, 2])
        cls.q = images(2, seed=21)
        cls.ref = cls.learner.predict(cls.q)

    @classmethod
    def tearDownClass(cls):
        cls.learner.close()
        cls.model.close()


class InputTypesTest(AdaptedFixture):
    """Every accepted array-like gives the same result as array.array('f')."""

    def check(self, x):
        labels, logits = self.learner.predict(x)
        self.assertEqual(list(labels), list(self.ref.labels))
        self.assertEqual(list(logits), list(self.ref.logits))

    def test_sequences(self):
        self.check(list(self.q))
        self.check(tuple(self.q))
        self.check([list(self.q[:PIX]), list(self.q[PIX:])])  # nested: 2 images
        self.check([[list(self.q[i:i + W]) for i in range(0, len(self.q), W)]])  # deeper

    def test_buffers(self):
        self.check(memoryview(self.q))
        self.check(self.q.tobytes())  # raw native float32 bytes
        self.check(bytearray(self.q.tobytes()))
        self.check(memoryview(self.q.tobytes()).cast("f"))  # read-only float view
        self.check(array.array("d", self.q))  # converted
        buf = (core.ctypes.c_float * len(self.q))(*self.q)
        self.check(buf)

    def test_labels(self):
        sx = images(3)
        for y in ([0, 1, 2], (0, 1, 2), array.array("i", [0, 1, 2]), array.array("q", [0, 1, 2]),
                  array.array("i", [0, 1, 2]).tobytes(), memoryview(array.array("h", [0, 1, 2]))):
            with self.model.adapt(sx, y) as learner:
                self.assertEqual(learner.predict(self.q), self.ref, repr(y))
        with self.assertRaises(TypeError):
            self.model.adapt(sx, [0.0, 1.0, 2.0])  # labels are integers
        with self.assertRaises(ValueError):
            self.model.adapt(sx, b"\x00\x01\x02")  # raw bytes: not whole int32 values
        with self.assertRaises(TypeError):
            self.model.adapt(sx, None)


@unittest.skipIf(np is None, "numpy is not importable in this interpreter")
class NumpyTest(AdaptedFixture):

    def test_numpy_in_numpy_out(self):
        x = np.array(self.q, dtype=np.float32).reshape(2, C, H, W)
        labels, logits = self.learner.predict(x)
        self.assertIsInstance(labels, np.ndarray)
        self.assertEqual((labels.dtype, labels.shape), (np.int32, (2,)))
        self.assertEqual((logits.dtype, logits.shape), (np.float32, (2, N_WAY)))
        self.assertEqual(labels.tolist(), list(self.ref.labels))
        self.assertEqual(logits.ravel().tolist(), list(self.ref.logits))
        np.testing.assert_array_equal(labels, logits.argmax(axis=1))

    def test_conversions(self):
        x = np.array(self.q, dtype=np.float32).reshape(2, C, H, W)
        for variant in (x.astype(np.float64), np.asfortranarray(x),
                        np.repeat(x, 2, axis=0)[::2]):  # float64, F-order, strided
            labels, logits = self.learner.predict(variant)
            self.assertEqual(logits.ravel().tolist(), list(self.ref.logits))

    def test_training_with_numpy(self):
        sx, sy, qx, qy = batch(num_tasks=2)
        with mamlpp.Model(tiny_config()) as a, mamlpp.Model(tiny_config()) as b:
            ra = a.meta_train_step(sx, sy, qx, qy)
            rb = b.meta_train_step(np.array(sx).reshape(2, 3, C, H, W), np.array(sy, dtype=np.int64),
                                   np.array(qx), np.array(qy))
            self.assertEqual(ra, rb)
            learners = b.adapt_tasks(np.array(sx), np.array(sy))
            self.assertEqual(len(learners), 2)


if __name__ == "__main__":
    unittest.main()
