"""Tests of the 1.3 additions through the Python binding: the MLP backbone and regression
(maml_config's new fields, maml_tasks' targets, maml_adapt_regression), over the real libmamlpp
(tiny models, CPU, one thread)."""
import array
import ctypes
import math
import pickle
import random
import unittest

import helpers  # noqa: F401  (puts the binding on sys.path)
from helpers import tiny_config

import mamlpp
from mamlpp import _native

try:
    import numpy as np
except ImportError:
    np = None

K, Q = 5, 6  # support and query examples per task


def mlp_config(**over):
    """A tiny MLP regression model: 1 input feature, hidden layers 8 and 8, 1 output."""
    fields = dict(backbone=mamlpp.BACKBONE_MLP, input_features=1, hidden_layers=2,
                  hidden_sizes=[8, 8], activation=mamlpp.ACTIVATION_RELU,
                  task_kind=mamlpp.TASK_REGRESSION, n_outputs=1, batch_norm=0,
                  inner_steps=1, eval_inner_steps=2, device_type=mamlpp.DEVICE_CPU,
                  num_threads=1, task_batching=mamlpp.TASKS_LOOP, seed=11)
    fields.update(over)
    return mamlpp.Config(**fields)


def sinusoids(num_tasks, size, seed, n_outputs=1, features=1):
    """(x, t): num_tasks lists of size*features inputs in [-5, 5] and size*n_outputs targets
    A*sin(x + phase) (+ k for output k), nested per task."""
    rnd = random.Random(seed)
    xs, ts = [], []
    for _ in range(num_tasks):
        amp, phase = rnd.uniform(0.1, 5.0), rnd.uniform(0.0, math.pi)
        x = [rnd.uniform(-5.0, 5.0) for _ in range(size * features)]
        t = []
        for i in range(size):
            for k in range(n_outputs):
                t.append(amp * math.sin(x[i * features] + phase) + k)
        xs.append(x)
        ts.append(t)
    return xs, ts


def flat(rows):
    return [v for row in rows for v in row]


class ConfigFieldsTest(unittest.TestCase):
    def test_defaults_are_the_librarys(self):
        c = mamlpp.Config()
        self.assertEqual(c.backbone, mamlpp.BACKBONE_CONV)
        self.assertEqual((c.input_features, c.hidden_layers), (1, 2))
        self.assertEqual(c.hidden_sizes, [40, 40] + [0] * (mamlpp.MAX_HIDDEN_LAYERS - 2))
        self.assertEqual(c.activation, mamlpp.ACTIVATION_LEAKY_RELU)
        self.assertEqual((c.task_kind, c.n_outputs, c.batch_norm),
                         (mamlpp.TASK_CLASSIFICATION, 1, 1))
        self.assertEqual(c.example_shape, (1, 28, 28))
        self.assertEqual(mamlpp.MAX_HIDDEN_LAYERS, 8)
        self.assertEqual(mamlpp.Config.field_names()[-1], "reserved3")
        self.assertEqual(c._c.struct_size, 208)

    def test_hidden_sizes_is_a_list(self):
        c = mamlpp.Config(hidden_sizes=(16, 8, 4))
        self.assertEqual(c.hidden_sizes, [16, 8, 4, 0, 0, 0, 0, 0])  # padded with zeros
        c.hidden_sizes = list(range(1, 9))
        self.assertEqual(c.hidden_sizes, list(range(1, 9)))
        self.assertEqual(c.to_dict()["hidden_sizes"], list(range(1, 9)))
        c.hidden_sizes[0] = 99  # a copy: the config is changed only by assignment
        self.assertEqual(c.hidden_sizes[0], 1)
        with self.assertRaises(ValueError):
            c.hidden_sizes = [1] * 9
        with self.assertRaises(TypeError):
            c.hidden_sizes = [1.5, 2]
        with self.assertRaises(TypeError):
            c.hidden_sizes = 40
        self.assertEqual(c.hidden_sizes, list(range(1, 9)))  # unchanged by the failures
        d = mlp_config()
        self.assertEqual(pickle.loads(pickle.dumps(d)), d)
        self.assertEqual(d.replace(hidden_sizes=[8, 8]), d)
        self.assertNotEqual(d.replace(hidden_sizes=[8, 9]), d)
        self.assertIn("hidden_sizes=[8, 8, 0", repr(d))
        self.assertEqual(d.example_shape, (1,))
        if np is not None:
            c.hidden_sizes = np.array([3, 2], dtype=np.int64)
            self.assertEqual(c.hidden_sizes, [3, 2, 0, 0, 0, 0, 0, 0])

    def test_fields_round_trip_through_the_library(self):
        # Every 1.3 field lies past the 1.2 struct: it comes back only if the whole mirror
        # reaches maml_create and returns from maml_get_config.
        cfg = mlp_config(input_features=3, hidden_layers=3, hidden_sizes=[8, 6, 4], n_outputs=2,
                         activation=mamlpp.ACTIVATION_RELU, batch_norm=1)
        with mamlpp.Model(cfg) as m:
            self.assertEqual(m.config, cfg)
            got = m.config
            self.assertEqual((got.backbone, got.input_features, got.hidden_layers),
                             (mamlpp.BACKBONE_MLP, 3, 3))
            self.assertEqual(got.hidden_sizes, [8, 6, 4, 0, 0, 0, 0, 0])
            self.assertEqual((got.activation, got.task_kind, got.n_outputs, got.batch_norm),
                             (mamlpp.ACTIVATION_RELU, mamlpp.TASK_REGRESSION, 2, 1))
            self.assertEqual(m.example_shape, (3,))
            self.assertTrue(m.regression)
            self.assertIn("regression", repr(m))
        # A conv classifier keeps 1.2's behaviour and carries the new switches too.
        conv = tiny_config(activation=mamlpp.ACTIVATION_RELU, batch_norm=0)
        with mamlpp.Model(conv) as m:
            self.assertEqual(m.config, conv)
            self.assertFalse(m.regression)
            self.assertEqual(m.example_shape, m.image_shape)

    def test_invalid_fields_are_the_librarys_refusal(self):
        for bad, field in ((dict(hidden_layers=3), "hidden_sizes"),   # a hidden layer of 0 units
                           (dict(hidden_sizes=[8, 8, 8]), "hidden_sizes"),  # past hidden_layers
                           (dict(n_outputs=0), "n_outputs"),
                           (dict(backbone=7), "backbone")):
            with self.subTest(**{k: str(v) for k, v in bad.items()}):
                with self.assertRaises(mamlpp.InvalidArgumentError) as cm:
                    mamlpp.Model(mlp_config(**bad))
                self.assertEqual(cm.exception.function, "maml_create")
                self.assertIn(field, cm.exception.message)
        with self.assertRaises(mamlpp.UnsupportedError):
            mamlpp.Model(mlp_config(reserved3=1))


class RegressionTest(unittest.TestCase):
    def setUp(self):
        self.model = mamlpp.Model(mlp_config())

    def tearDown(self):
        self.model.close()

    def test_meta_train_evaluate_adapt_predict(self):
        m = self.model
        sx, st = sinusoids(3, K, seed=1)
        qx, qt = sinusoids(3, Q, seed=2)
        losses = []
        for step in range(1, 4):
            r = m.meta_train_step(sx, query_x=qx, support_t=st, query_t=qt)
            self.assertEqual((r.step, m.step), (step, step))
            self.assertTrue(math.isfinite(r.loss))
            self.assertTrue(math.isnan(r.accuracy))  # not applicable to regression
            losses.append(r.loss)
        e1 = m.evaluate(sx, query_x=qx, support_t=st, query_t=qt)
        self.assertEqual(m.step, 3)
        self.assertTrue(math.isfinite(e1.loss) and math.isnan(e1.accuracy))
        # Flat targets with explicit sizes, and positional None labels, mean the same batch.
        e2 = m.evaluate(flat(sx), None, flat(qx), None, num_tasks=3, support_t=flat(st),
                        query_t=flat(qt))
        self.assertEqual(e1.loss, e2.loss)

        with m.adapt_regression(sx[0], st[0]) as learner:
            self.assertTrue(learner.regression)
            self.assertEqual((learner.n_way, learner.n_outputs), (1, 1))
            self.assertEqual(learner.example_shape, (1,))
            self.assertIn("regression", repr(learner))
            values = learner.predict(qx[0])
            self.assertIsInstance(values, array.array)
            self.assertEqual((values.typecode, len(values)), ("f", Q))
            self.assertTrue(all(math.isfinite(v) for v in values))
            self.assertEqual(list(learner.predict(qx[0], n=2)), list(values[:2]))
            with self.assertRaises(ValueError):
                learner.predict(qx[0], n=Q + 1)
        # n_support explicit reads only the first examples.
        with m.adapt_regression(sx[0], st[0], n_support=K) as a, \
                m.adapt_regression(sx[0][:K], st[0][:K]) as b:
            self.assertEqual(list(a.predict(qx[0])), list(b.predict(qx[0])))

    def test_adapt_tasks_matches_adapt_regression(self):
        sx, st = sinusoids(2, K, seed=3)
        q = [0.5, -1.0, 2.0]
        learners = self.model.adapt_tasks(sx, support_t=st)
        self.assertEqual(len(learners), 2)
        for i, learner in enumerate(learners):
            with learner, self.model.adapt_regression(sx[i], st[i]) as single:
                self.assertTrue(learner.regression)
                for u, v in zip(learner.predict(q), single.predict(q)):
                    self.assertAlmostEqual(u, v, places=5)

    def test_several_outputs_and_features(self):
        cfg = mlp_config(input_features=2, n_outputs=3)
        sx, st = sinusoids(2, K, seed=4, n_outputs=3, features=2)
        qx, qt = sinusoids(2, Q, seed=5, n_outputs=3, features=2)
        with mamlpp.Model(cfg) as m:
            # Targets shaped (num_tasks, size * n_outputs): 2 tasks, from the nesting.
            r = m.meta_train_step(sx, query_x=qx, support_t=st, query_t=qt)
            self.assertEqual(r.step, 1)
            with m.adapt_regression(sx[0], st[0]) as learner:
                self.assertEqual(learner.n_outputs, 3)
                self.assertEqual(len(learner.predict(qx[0])), Q * 3)
            with self.assertRaises(ValueError):  # not a whole number of 3-value targets
                m.adapt_regression(sx[0], st[0][:-1])
            with self.assertRaises(ValueError):  # 5 targets need 5 examples of 2 features
                m.adapt_regression(sx[0][:-2], st[0])

    def test_save_load_predicts_identically(self):
        sx, st = sinusoids(2, K, seed=6)
        qx, qt = sinusoids(2, Q, seed=7)
        self.model.meta_train_step(sx, query_x=qx, support_t=st, query_t=qt)
        with mamlpp.Model.from_bytes(self.model.to_bytes(), device="cpu") as back:
            self.assertEqual(back.config, self.model.config)
            self.assertTrue(back.regression)
            with self.model.adapt_regression(sx[0], st[0]) as a, \
                    back.adapt_regression(sx[0], st[0]) as b:
                self.assertEqual(list(a.predict(qx[1])), list(b.predict(qx[1])))

    def test_regression_refuses_labels(self):
        sx, st = sinusoids(1, K, seed=8)
        qx, qt = sinusoids(1, Q, seed=9)
        with self.assertRaises(mamlpp.InvalidArgumentError) as cm:
            self.model.meta_train_step(sx, [[0] * K], qx, [[0] * Q])
        self.assertEqual(cm.exception.function, "maml_meta_train_step")
        self.assertIn("regression", cm.exception.message)
        with self.assertRaises(mamlpp.InvalidArgumentError) as cm:
            self.model.adapt(sx[0], [0] * K)
        self.assertEqual(cm.exception.function, "maml_adapt")
        self.assertIn("regression", cm.exception.message)
        self.assertEqual(self.model.step, 0)

    def test_classifier_refuses_targets(self):
        hx, _, hqx, _ = helpers.batch(num_tasks=1, support=3, query=3)
        with mamlpp.Model(tiny_config()) as c:
            with self.assertRaises(mamlpp.InvalidArgumentError) as cm:
                c.meta_train_step(hx, query_x=hqx, support_t=[0.5] * 3, query_t=[0.5] * 3)
            self.assertEqual(cm.exception.function, "maml_meta_train_step")
            self.assertIn("classifier", cm.exception.message)
            with self.assertRaises(mamlpp.InvalidArgumentError) as cm:
                c.adapt_regression(hx, [0.5] * 3)
            self.assertEqual(cm.exception.function, "maml_adapt_regression")
            self.assertIn("classifier", cm.exception.message)
            self.assertEqual(c.step, 0)

    def test_binding_argument_errors(self):
        sx, st = sinusoids(1, K, seed=10)
        with self.assertRaises(TypeError):
            self.model.meta_train_step(sx, query_x=sx)  # neither labels nor targets
        with self.assertRaises(TypeError):
            self.model.meta_train_step(sx, support_t=st, query_x=sx)  # no query targets
        with self.assertRaises(ValueError):
            self.model.meta_train_step(sx, query_x=sx, support_t=st[0][:-1], query_t=st)
        self.assertEqual(self.model.step, 0)

    def test_older_library_without_the_call(self):
        # A 1.1 or 1.2 library has no maml_adapt_regression: the binding still loads, and the
        # call raises UnsupportedError naming the version it needs.
        saved = _native.adapt_regression
        _native.adapt_regression = None
        try:
            with self.assertRaises(mamlpp.UnsupportedError) as cm:
                self.model.adapt_regression([0.0], [0.0])
            self.assertIn("1.3", cm.exception.message)
            self.assertEqual(cm.exception.function, "maml_adapt_regression")
        finally:
            _native.adapt_regression = saved


@unittest.skipIf(np is None, "numpy is not importable in this interpreter")
class NumpyShapeTest(unittest.TestCase):
    """The library sees a pointer only: the binding checks a numpy array's shape against the
    model's example shape before the call."""

    @classmethod
    def setUpClass(cls):
        cls.mlp = mamlpp.Model(mlp_config())
        cls.conv = mamlpp.Model(tiny_config())
        sx, st = sinusoids(1, K, seed=12)
        cls.sx, cls.st = np.array(sx[0], dtype=np.float32), np.array(st[0], dtype=np.float32)
        cls.learner = cls.mlp.adapt_regression(cls.sx.reshape(K, 1), cls.st)

    @classmethod
    def tearDownClass(cls):
        cls.learner.close()
        cls.mlp.close()
        cls.conv.close()

    def test_numpy_in_numpy_out(self):
        q = np.linspace(-5, 5, 7, dtype=np.float32)
        values = self.learner.predict(q.reshape(7, 1))
        self.assertIsInstance(values, np.ndarray)
        self.assertEqual((values.dtype, values.shape), (np.float32, (7, 1)))
        self.assertEqual(self.learner.predict(q).ravel().tolist(), values.ravel().tolist())
        self.assertEqual(values.ravel().tolist(), list(self.learner.predict(list(q))))

    def test_image_shaped_array_to_an_mlp(self):
        images = np.zeros((2, 1, 8, 8), dtype=np.float32)
        with self.assertRaises(ValueError) as cm:
            self.learner.predict(images)
        self.assertIn("MLP", str(cm.exception))
        self.assertIn("(2, 1, 8, 8)", str(cm.exception))
        self.assertNotIsInstance(cm.exception, mamlpp.MamlError)  # the binding's, before C
        with self.assertRaises(ValueError):
            self.mlp.adapt_regression(images, np.zeros(2, dtype=np.float32))
        with self.assertRaises(ValueError):  # (n, 3): vectors of 3 features, the model takes 1
            self.learner.predict(np.zeros((4, 3), dtype=np.float32))
        with self.assertRaises(ValueError):
            self.mlp.meta_train_step(np.zeros((1, K, 1, 1, 1), dtype=np.float32),
                                     query_x=np.zeros((1, Q, 1), dtype=np.float32),
                                     support_t=np.zeros((1, K)), query_t=np.zeros((1, Q)))
        self.assertEqual(self.mlp.step, 0)

    def test_vector_array_to_a_conv_model(self):
        with self.assertRaises(ValueError) as cm:
            self.conv.adapt(np.zeros((3, 5), dtype=np.float32), [0, 1, 2])
        self.assertIn("conv", str(cm.exception))
        self.assertIn("(3, 5)", str(cm.exception))
        self.assertNotIsInstance(cm.exception, mamlpp.MamlError)
        c, h, w = self.conv.image_shape
        # Images shaped (n, C, H, W), flattened to (n, C*H*W), or (n, H, W) with one channel.
        for shape in ((3, c, h, w), (3, c * h * w), (3, h, w)):
            with self.conv.adapt(np.zeros(shape, dtype=np.float32), [0, 1, 2]) as learner:
                self.assertEqual(len(learner.predict(np.zeros(shape, dtype=np.float32)).labels), 3)

    def test_meta_batch_shapes(self):
        sx, st = sinusoids(2, K, seed=13)
        qx, qt = sinusoids(2, Q, seed=14)
        with mamlpp.Model(mlp_config()) as a, mamlpp.Model(mlp_config()) as b:
            ra = a.meta_train_step(sx, query_x=qx, support_t=st, query_t=qt)
            rb = b.meta_train_step(np.array(sx).reshape(2, K, 1), query_x=np.array(qx),
                                   support_t=np.array(st).reshape(2, K, 1),
                                   query_t=np.array(qt))
            self.assertEqual((ra.loss, ra.step), (rb.loss, rb.step))  # accuracy: NaN != NaN


if __name__ == "__main__":
    unittest.main()
