# Tests of the Julia binding over the real libmamlpp (tiny models, CPU, one thread).
# Run: MAMLPP_LIBRARY=/path/to/libmamlpp.so.1 julia --project=bindings/julia -e 'using Pkg; Pkg.test()'
# NOTE: written but NOT run (Julia is not installed where this binding was written); see README.md.
using Test
using Sockets
using MamlPP

const N_WAY = 3
const C, H, W = 1, 8, 8
const PIX = C * H * W

tiny_config(; kw...) = Config(Config(; n_way = N_WAY, image_channels = C, image_height = H,
                                     image_width = W, num_stages = 2, num_filters = 4,
                                     inner_steps = 1, eval_inner_steps = 2,
                                     device_type = MamlPP.DEVICE_CPU, num_threads = 1,
                                     task_batching = MamlPP.TASKS_LOOP, seed = 7); kw...)

images(n; seed = 0) = Float32[((i * 7919 + seed * 104729) % 1000) / 1000 for i in 0:n*PIX-1]
labels(num_tasks, per_task) = Int32[(i - 1) % N_WAY for i in 1:per_task, _ in 1:num_tasks]

"A TCP port nothing listens on now (the OS picks one for port 0)."
function free_port()
    server = listen(ip"127.0.0.1", 0)
    port = Int(getsockname(server)[2])
    close(server)
    return port
end

caught(f) = try f(); nothing catch err; err end

@testset "MamlPP" begin
    @testset "library" begin
        @test MamlPP.abi_version() == MamlPP.ABI_VERSION
        @test MamlPP.status_string(0) == "MAML_OK"
        @test MamlPP.status_string(MamlPP.MAML_E_FORMAT) == "MAML_E_FORMAT"
        @test !isempty(library_version())
        @test cuda_device_count() >= 0
        e = try
            cuda_memory(cuda_device_count()); nothing
        catch err
            err
        end
        @test e isa MamlError && e.status == MamlPP.MAML_E_DEVICE
        if cuda_device_count() > 0
            current, peak = cuda_memory(0; reset_peak = true)
            @test 0 <= current <= peak
            @test cuda_memory(0) == (current, current)
        end
    end

    @testset "set_cuda_deterministic" begin
        # Process-wide, never fails, no effect on CPU models: callable both ways, and a CPU
        # model still trains after toggling. Left at the default (deterministic) afterwards.
        sx, sy, qx, qy = images(3), labels(1, 3), images(3; seed = 1), labels(1, 3)
        for b in (false, true)
            @test set_cuda_deterministic(b) === nothing
            Model(tiny_config()) do m
                @test isfinite(meta_train_step!(m, sx, sy, qx, qy).loss)
            end
        end
    end

    @testset "struct layout" begin
        # The C sizes on LP64 (tests/bindings/layout prints them); offsets follow C's rules.
        @test sizeof(MamlPP.MamlConfig) == 208   # 136 in 1.0, 144 in 1.1 and 1.2
        @test fieldnames(MamlPP.MamlConfig)[end] == :reserved3
        @test !(:reserved2 in fieldnames(MamlPP.MamlConfig))
        @test sizeof(MamlPP.MamlTasks) == 64     # 48 in 1.0; 1.3 appended support_t, query_t
        @test sizeof(MamlPP.MamlMetrics) == 40
        @test fieldoffset(MamlPP.MamlConfig, findfirst(==(:seed), fieldnames(MamlPP.MamlConfig))) == 112
        @test fieldoffset(MamlPP.MamlConfig, findfirst(==(:grad_clip_lslr), fieldnames(MamlPP.MamlConfig))) == 136
        @test fieldoffset(MamlPP.MamlConfig, findfirst(==(:adapt_last_layers), fieldnames(MamlPP.MamlConfig))) == 140
        @test fieldoffset(MamlPP.MamlConfig, findfirst(==(:backbone), fieldnames(MamlPP.MamlConfig))) == 144
        @test fieldoffset(MamlPP.MamlConfig, findfirst(==(:hidden_sizes), fieldnames(MamlPP.MamlConfig))) == 156
        @test fieldoffset(MamlPP.MamlConfig, findfirst(==(:reserved3), fieldnames(MamlPP.MamlConfig))) == 204
        @test fieldoffset(MamlPP.MamlTasks, findfirst(==(:support_t), fieldnames(MamlPP.MamlTasks))) == 48
        @test fieldoffset(MamlPP.MamlMetrics, findfirst(==(:step), fieldnames(MamlPP.MamlMetrics))) == 24
    end

    @testset "config" begin
        c = Config()
        @test (c.n_way, c.image_channels, c.image_height, c.image_width) == (5, 1, 28, 28)
        @test c.struct_size == sizeof(MamlPP.MamlConfig)
        @test c.bn_stats == MamlPP.BN_SUPPORT
        @test (c.grad_clip, c.grad_clip_lslr, c.adapt_last_layers) == (0.0f0, 0, 0)
        # past the 1.0 struct: comes back only if the whole mirror reaches the library
        Model(tiny_config(grad_clip = 10, grad_clip_lslr = 1)) do m
            @test get_config(m).grad_clip_lslr == 1
        end
        d = Config(c; n_way = 7, inner_lr = 0.5)
        @test (d.n_way, d.inner_lr, c.n_way) == (7, 0.5f0, 5)
        @test_throws ArgumentError Config(n_ways = 5)
        @test_throws ArgumentError Config(struct_size = 3)
        err = try
            Model(tiny_config(n_way = 0)); nothing
        catch e
            e
        end
        @test err isa MamlError
        @test err.status == MamlPP.MAML_E_INVALID_ARGUMENT
        @test err.status_name == "MAML_E_INVALID_ARGUMENT"
        @test err.func == :maml_create
        @test !isempty(err.message)
    end

    @testset "adapt_last_layers (ANIL, since 1.2)" begin
        @test Config().adapt_last_layers == 0
        stages = Int(tiny_config().num_stages)
        sx, sy, qx, qy = images(3), labels(1, 3), images(3; seed = 1), labels(1, 3)
        # 0 = every layer, up to num_stages + 1: the value reaches the library and comes back
        # (it lies past the 1.0 struct), and the model trains and adapts.
        for k in (0, 1, stages + 1)
            Model(tiny_config(adapt_last_layers = k)) do m
                @test get_config(m).adapt_last_layers == k
                @test isfinite(meta_train_step!(m, sx, sy, qx, qy).loss)
                l = adapt(m, sx, vec(sy))
                @test length(predict(l, qx).labels) == 3
                close(l)
            end
        end
        # Head only: the inner-rate table has rows for the head's weight and bias alone.
        Model(tiny_config(adapt_last_layers = 1)) do m
            table = inner_lrs(m)
            @test sort(first.(table)) == ["backbone.head.bias", "backbone.head.weight"]
            @test all(r -> length(r) == 1, last.(table))
        end
        # Out of range: the library refuses it and names the field.
        for bad in (-1, stages + 2)
            err = caught(() -> Model(tiny_config(adapt_last_layers = bad)))
            @test err isa MamlError
            @test err.status == MamlPP.MAML_E_INVALID_ARGUMENT
            @test occursin("adapt_last_layers", err.message)
        end
    end

    @testset "MLP regression (since 1.3)" begin
        c = Config()
        @test (c.backbone, c.input_features, c.hidden_layers) == (MamlPP.BACKBONE_CONV, 1, 2)
        @test c.hidden_sizes == (40, 40, 0, 0, 0, 0, 0, 0)
        @test (c.activation, c.task_kind, c.n_outputs, c.batch_norm) ==
              (MamlPP.ACTIVATION_LEAKY_RELU, MamlPP.TASK_CLASSIFICATION, 1, 1)
        @test Config(c; hidden_sizes = [8, 6]).hidden_sizes == (8, 6, 0, 0, 0, 0, 0, 0)
        @test_throws ArgumentError Config(c; hidden_sizes = ones(Int, 9))

        mlp(; kw...) = Config(Config(; backbone = MamlPP.BACKBONE_MLP, input_features = 1,
                                     hidden_layers = 2, hidden_sizes = (8, 8),
                                     activation = MamlPP.ACTIVATION_RELU,
                                     task_kind = MamlPP.TASK_REGRESSION, n_outputs = 1,
                                     batch_norm = 0, inner_steps = 1, eval_inner_steps = 2,
                                     device_type = MamlPP.DEVICE_CPU, num_threads = 1,
                                     task_batching = MamlPP.TASKS_LOOP, seed = 11); kw...)
        # Every 1.3 field lies past the 1.2 struct: it comes back only if the whole mirror
        # reaches maml_create and returns from maml_get_config.
        cfg = mlp(input_features = 3, hidden_layers = 3, hidden_sizes = (8, 6, 4), n_outputs = 2,
                  batch_norm = 1)
        Model(cfg) do m
            @test get_config(m) == cfg
        end

        K, Q, B = 5, 6, 3
        sinus(x, a, p) = Float32(a * sin(x + p))
        xs(n, seed) = Float32[10 * (((i * 7919 + seed * 104729) % 1000) / 1000) - 5 for i in 1:n]
        amps, phases = (1.0, 2.5, 4.0), (0.0, 1.0, 2.0)
        sx, qx = reshape(xs(K * B, 1), K, B), reshape(xs(Q * B, 2), Q, B)
        st = Float32[sinus(sx[i, t], amps[t], phases[t]) for i in 1:K, t in 1:B]
        qt = Float32[sinus(qx[i, t], amps[t], phases[t]) for i in 1:Q, t in 1:B]
        m = Model(mlp())
        for step in 1:3
            r = meta_train_step!(m, sx, st, qx, qt)   # float targets: (size, num_tasks)
            @test r.step == step && isfinite(r.loss) && isnan(r.accuracy)
        end
        e = evaluate(m, sx, st, qx, qt)
        @test isfinite(e.loss) && isnan(e.accuracy)
        l = adapt_regression(m, sx[:, 1], st[:, 1])
        values = predict(l, qx[:, 1])
        @test values isa Matrix{Float32} && size(values) == (1, Q)
        @test all(isfinite, values)
        @test predict(l, reshape(qx[:, 1], 1, Q)) == values           # (input_features, n)
        @test_throws DimensionMismatch predict(l, zeros(Float32, 8, 8, 1, 2))  # image-shaped
        @test_throws DimensionMismatch predict(l, zeros(Float32, 3, 2))  # 3 features, not 1
        ls = adapt_tasks(m, sx, st)
        @test length(ls) == B
        @test isapprox(predict(ls[1], qx[:, 1]), values; atol = 1e-5)
        foreach(close, ls)
        # Saved and loaded back, the model predicts identically.
        m2 = model_from_bytes(to_bytes(m); device = :cpu)
        l2 = adapt_regression(m2, sx[:, 1], st[:, 1])
        @test predict(l2, qx[:, 1]) == values
        close(l2); close(m2); close(l)
        # A regression model refuses labels; a classifier refuses targets (the library's error).
        err = caught(() -> meta_train_step!(m, sx, labels(B, K), qx, labels(B, Q)))
        @test err isa MamlError && err.status == MamlPP.MAML_E_INVALID_ARGUMENT
        @test occursin("regression", err.message)
        err = caught(() -> adapt(m, sx[:, 1], zeros(Int32, K)))
        @test err isa MamlError && err.func == :maml_adapt
        @test get_step(m) == 3
        close(m)
        Model(tiny_config()) do c
            err = caught(() -> meta_train_step!(c, images(3), fill(0.5f0, 3), images(3; seed = 1),
                                                fill(0.5f0, 3)))
            @test err isa MamlError && err.status == MamlPP.MAML_E_INVALID_ARGUMENT
            @test occursin("classifier", err.message)
            err = caught(() -> adapt_regression(c, images(3), fill(0.5f0, 3)))
            @test err isa MamlError && err.func == :maml_adapt_regression
            @test_throws DimensionMismatch adapt(c, zeros(Float32, 5, 3), Int32[0, 1, 2])  # vectors
            @test get_step(c) == 0
        end
    end

    @testset "train, evaluate, adapt, predict" begin
        m = Model(tiny_config())
        @test get_step(m) == 0
        @test device(m) == (:cpu, 0)
        @test num_parameters(m) > 0
        @test get_config(m).n_way == N_WAY
        sx, sy, qx, qy = images(6), labels(2, 3), images(6; seed = 1), labels(2, 3)
        r = meta_train_step!(m, sx, sy, qx, qy)
        @test isfinite(r.loss) && 0 <= r.accuracy <= 1
        @test r.step == 1 && get_step(m) == 1
        e1 = evaluate(m, sx, sy, qx, qy)
        @test evaluate(m, sx, vec(sy), qx, vec(qy); num_tasks = 2) == e1
        @test get_step(m) == 1
        @test_throws DimensionMismatch meta_train_step!(m, sx[1:end-1], sy, qx, qy)

        bad = copy(sy); bad[1] = N_WAY
        e = try meta_train_step!(m, sx, bad, qx, qy); nothing catch err; err end
        @test e isa MamlError && e.status == MamlPP.MAML_E_INVALID_ARGUMENT

        l = adapt(m, images(3), Int32[0, 1, 2])
        @test n_way(l) == N_WAY
        p = predict(l, images(4; seed = 5))
        @test length(p.labels) == 4 && size(p.logits) == (N_WAY, 4)
        @test p.labels == Int32[argmax(p.logits[:, i]) - 1 for i in 1:4]
        @test_throws DimensionMismatch predict(l, images(4)[1:end-1])
        nanx = images(1); nanx[1] = NaN32
        e = try predict(l, nanx); nothing catch err; err end
        @test e isa MamlError && e.status == MamlPP.MAML_E_NUMERICAL

        ls = adapt_tasks(m, sx, sy)
        @test length(ls) == 2
        single = adapt(m, sx[1:3PIX], sy[:, 1])
        @test isapprox(predict(ls[1], images(2)).logits, predict(single, images(2)).logits; atol = 1e-4)
        foreach(close, ls); close(single)

        # a learner outlives its model
        close(m)
        @test !isopen(m)
        @test_throws ArgumentError get_step(m)
        @test predict(l, images(4; seed = 5)).logits == p.logits
        close(l); close(l)
        @test !isopen(l)
    end

    @testset "save, load, bytes" begin
        mktempdir() do dir
            m = Model(tiny_config())
            meta_train_step!(m, images(6), labels(2, 3), images(6; seed = 1), labels(2, 3))
            path = joinpath(dir, "m.maml")
            save(m, path)
            @test to_bytes(m) == read(path)
            slim = joinpath(dir, "slim.maml")
            save(m, slim; inference_only = true)
            @test filesize(slim) < filesize(path)
            q = images(3; seed = 3)
            ref = adapt(l -> predict(l, q), m, images(3), Int32[0, 1, 2])
            for loaded in (load_model(path; device = :cpu), load_model(slim),
                           model_from_bytes(read(path); device = MamlPP.DEVICE_CPU))
                @test adapt(l -> predict(l, q), loaded, images(3), Int32[0, 1, 2]) == ref
                close(loaded)
            end
            @test load_model(get_step, path) == 1
            e = try load_model(joinpath(dir, "missing.maml")); nothing catch err; err end
            @test e isa MamlError && e.status == MamlPP.MAML_E_IO
            write(joinpath(dir, "bad.maml"), UInt8[0x10, 0, 0, 0, 0, 0, 0, 0, 0x7b])
            e = try load_model(joinpath(dir, "bad.maml")); nothing catch err; err end
            @test e isa MamlError && e.status == MamlPP.MAML_E_FORMAT
            @test_throws ArgumentError load_model(path; device = :tpu)
            close(m)
        end
    end

    @testset "inner learning rates" begin
        Model(tiny_config()) do m
            table = inner_lrs(m)
            @test length(table) == 6
            @test first.(table)[end] == "backbone.head.bias"
            @test all(r -> length(r) == 1 && isapprox(r[1], 0.1f0; atol = 1e-6), last.(table))
        end
    end

    @testset "process groups (world of one)" begin
        @test MamlPP.GROUP_DEFAULT_TIMEOUT == 300.0
        @test MamlPP.status_string(MamlPP.MAML_E_DISTRIBUTED) == "MAML_E_DISTRIBUTED"
        sx, sy, qx, qy = images(6), labels(2, 3), images(6; seed = 1), labels(2, 3)

        g = join_group("127.0.0.1", free_port(), 0, 1; timeout = 60)
        @test isopen(g)
        @test group_rank(g) == (rank = 0, world_size = 1, local_rank = 0)
        m = Model(tiny_config())
        @test attach!(m, g) === m
        @test meta_train_step!(m, sx, sy, qx, qy).step == 1
        v = [1.5, -2.0, 3.25, 1e300]          # a world of one: the sums are the values
        @test allreduce_sum!(g, v) === v
        @test v == [1.5, -2.0, 3.25, 1e300]
        @test allreduce_sum(g, (1, 2)) == [1.0, 2.0]
        @test allreduce_sum(g, Float32[1 2; 3 4]) == [1.0 2.0; 3.0 4.0]
        e = caught(() -> allreduce_sum!(g, Float64[]))
        @test e isa MamlError && e.status == MamlPP.MAML_E_INVALID_ARGUMENT
        @test allreduce_sum(g, [2]) == [2.0]   # the refused call did not break the group
        @test detach!(m) === m
        detach!(m)                             # not attached: not an error
        @test meta_train_step!(m, sx, sy, qx, qy).step == 2
        close(g); close(g)
        @test !isopen(g)
        @test_throws ArgumentError group_rank(g)
        @test_throws ArgumentError allreduce_sum!(g, [1.0])
        @test_throws ArgumentError attach!(m, g)
        close(m)
        @test_throws ArgumentError detach!(m)

        # The model keeps the membership while attached; do-blocks close the group.
        Model(tiny_config()) do m
            join_group("127.0.0.1", free_port(), 0, 1; local_rank = 3, timeout = 60) do g
                @test group_rank(g).local_rank == 3
                attach!(m, g)
            end
            @test meta_train_step!(m, sx, sy, qx, qy).step == 1
            detach!(m)
        end

        # Errors: the library checks every value and names it.
        port = free_port()
        for (rank, world, local_rank, timeout, needle) in
                ((1, 1, -1, 60, "rank 1"), (-1, 1, -1, 60, "rank"), (0, 0, -1, 60, "world"),
                 (0, 1, -2, 60, "local rank"), (0, 1, -1, 0.01, "timeout"))
            e = caught(() -> join_group("127.0.0.1", port, rank, world;
                                        local_rank = local_rank, timeout = timeout))
            @test e isa MamlError && e.status == MamlPP.MAML_E_INVALID_ARGUMENT
            @test e isa MamlError && e.func == :maml_group_join && occursin(needle, e.message)
        end
        e = caught(() -> join_group("127.0.0.1", 0, 0, 1))
        @test e isa MamlError && occursin("port", e.message)
        @test_throws ArgumentError join_group("127.0.0.1\0x", port, 0, 1)  # never cut at NUL
        @test_throws InexactError join_group("127.0.0.1", port, 2^32, 1)

        # join_group_env reads torchrun's variables.
        torchrun = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
        withenv((k => nothing for k in torchrun)...) do
            e = caught(join_group_env)
            @test e isa MamlError && e.status == MamlPP.MAML_E_INVALID_ARGUMENT
            @test e isa MamlError && e.func == :maml_group_join_env && occursin("RANK", e.message)
        end
        withenv("RANK" => "0", "WORLD_SIZE" => "1", "LOCAL_RANK" => "2",
                "MASTER_ADDR" => "127.0.0.1", "MASTER_PORT" => string(free_port())) do
            join_group_env(; timeout = 60) do g
                @test group_rank(g) == (rank = 0, world_size = 1, local_rank = 2)
            end
        end
    end

    @testset "finalizers" begin
        for _ in 1:20
            m = Model(tiny_config())
            adapt(m, images(3), Int32[0, 1, 2])   # dropped: freed by its finalizer
        end
        GC.gc(); GC.gc()
        @test true   # no crash, no double free
    end
end
