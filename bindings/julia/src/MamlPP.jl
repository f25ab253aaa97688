"""
    MamlPP

Julia bindings for libmamlpp, MAML++ meta-learning behind a stable C ABI
(`include/mamlpp/mamlpp.h`). A thin layer of `ccall`s: the library does all the work and all the
validation; every failing call throws a [`MamlError`](@ref) carrying the status and the library's
message.

The shared library is `libmamlpp.so.1`, found by the system loader (`LD_LIBRARY_PATH`,
`ldconfig`), or at the full path in the environment variable `MAMLPP_LIBRARY`, which is opened
first so that the SONAME resolves to it. Loading fails if the library's ABI version is not
[`ABI_VERSION`](@ref).

Array conventions (Julia is column-major, C is row-major, so the memory layout is the same):
images are `Float32` with all of one image's `C*H*W` values contiguous; a batch of images is a
flat vector or an array shaped `(W, H, C, n)`. An MLP model's examples (since 1.3) are vectors of
`input_features` values: a flat vector or a matrix `(input_features, n)`. An array whose leading
dimensions are not one example's shape (an image-shaped array given to an MLP model, vectors to a
conv model) throws `DimensionMismatch` before the library is called. Labels are integers in
`0:n_way-1` (0-based, as the C API defines them; the binding does not shift them); a regression
model (since 1.3) takes `Float32` targets instead, `n_outputs` per example, in the same argument
positions (an array of floats is passed as targets, one of integers as labels).
[`predict`](@ref) returns `labels` (`Vector{Int32}`, 0-based) and `logits` (`Matrix{Float32}` of
size `(n_way, n)`); for a regression learner the predicted values (`Matrix{Float32}` of size
`(n_outputs, n)`).

NOTE: this binding has been written against the header and checked by
`tests/bindings/julia/check_julia_binding.py` (every `ccall` against the header's declarations and
the struct mirrors against the C structs), but it has NOT been run: Julia is not installed on the
machines it was written on.
"""
module MamlPP

using Libdl

export Config, Model, Learner, Metrics, MamlError,
       meta_train_step!, evaluate, adapt, adapt_regression, adapt_tasks, predict, save, to_bytes,
       load_model, model_from_bytes, get_config, get_step, device, num_parameters, n_way,
       inner_lrs, library_version, abi_version, cuda_device_count, cuda_memory, status_string,
       set_cuda_deterministic, set_metadata!, remove_metadata!, get_metadata, metadata_keys,
       metadata, Group, join_group_env, join_group, group_rank, allreduce_sum!, allreduce_sum,
       attach!, detach!

"The MAMLPP_ABI_VERSION of the header this binding mirrors."
const ABI_VERSION = Int32(1)

"The library's SONAME; `ccall` resolves every function through it."
const libmamlpp = "libmamlpp.so.1"

# ----------------------------------------------------------------------------------------------
# Constants (the #defines of mamlpp.h)
# ----------------------------------------------------------------------------------------------

const MAML_OK = Int32(0)
const MAML_E_INVALID_ARGUMENT = Int32(-1)
const MAML_E_IO = Int32(-2)
const MAML_E_FORMAT = Int32(-3)
const MAML_E_DEVICE = Int32(-4)
const MAML_E_OUT_OF_MEMORY = Int32(-5)
const MAML_E_NUMERICAL = Int32(-6)
const MAML_E_UNSUPPORTED = Int32(-7)
const MAML_E_INTERNAL = Int32(-8)
const MAML_E_DISTRIBUTED = Int32(-9)   # since 1.1: a collective of a process group failed

const DEVICE_AUTO = Int32(0)
const DEVICE_CPU = Int32(1)
const DEVICE_CUDA = Int32(2)

const BN_RUNNING = Int32(0)
const BN_TRANSDUCTIVE = Int32(1)
const BN_SUPPORT = Int32(2)

const TASKS_AUTO = Int32(0)
const TASKS_LOOP = Int32(1)
const TASKS_BATCHED = Int32(2)

const DTYPE_FLOAT32 = Int32(0)
const DTYPE_FLOAT64 = Int32(1)

# Since 1.3: maml_config.backbone, activation, task_kind and the length of hidden_sizes.
const BACKBONE_CONV = Int32(0)          # images (C x H x W floats) through conv stages
const BACKBONE_MLP = Int32(1)           # vectors (input_features floats) through linear layers
const MAX_HIDDEN_LAYERS = 8             # MAML_MAX_HIDDEN_LAYERS

const ACTIVATION_LEAKY_RELU = Int32(0)  # slope 0.01 below zero
const ACTIVATION_RELU = Int32(1)        # the MAML paper's sinusoid network

const TASK_CLASSIFICATION = Int32(0)    # n_way classes, Int32 labels, cross-entropy
const TASK_REGRESSION = Int32(1)        # n_outputs values, Float32 targets, MSE; accuracy NaN

"The library version that added `maml_adapt_regression` (1.3.0)."
const REGRESSION_LIBRARY_VERSION = Int32(10300)

const SAVE_DEFAULT = Int32(0)
const SAVE_INFERENCE_ONLY = Int32(1)

"The timeout, in seconds, that a group timeout of 0 means (`MAML_GROUP_DEFAULT_TIMEOUT`). Since 1.1."
const GROUP_DEFAULT_TIMEOUT = 300.0

# ----------------------------------------------------------------------------------------------
# Struct mirrors: field names, order and types must equal the C structs exactly
# (checked by tests/bindings/julia/check_julia_binding.py).
# ----------------------------------------------------------------------------------------------

"""
    MamlConfig

Mirror of `maml_config`: everything that defines a model and its meta-training. Make one with
[`Config`](@ref), which starts from the library's defaults (in parentheses below; the header
documents each field's range). Flags are `Int32` 0/1, as in C. Fields are only ever appended, as
the C struct grows at its end; `reserved*` fields must be 0.
"""
struct MamlConfig
    struct_size::UInt32         # sizeof(MamlConfig), set by Config
    # task and images
    n_way::Int32                # classes per task, N (5)
    image_channels::Int32       # C (1)
    image_height::Int32         # H (28)
    image_width::Int32          # W (28)
    # backbone: num_stages x [3x3 conv -> BN -> LeakyReLU -> 2x2 max-pool] -> linear
    num_stages::Int32           # conv blocks (4)
    num_filters::Int32          # channels of every conv (64; 48 for Mini-ImageNet)
    max_pool::Int32             # 1: max-pool after each conv; 0: stride-2 convs, avg pool (1)
    # inner loop
    inner_steps::Int32          # S, adaptation steps in meta-training (5)
    eval_inner_steps::Int32     # adaptation steps in evaluation and adapt (5)
    inner_lr::Cfloat            # initial inner learning rate alpha (0.1)
    learn_inner_lr::Int32       # LSLR: learn one rate per adapted tensor per step (1)
    per_step_bn::Int32          # BNRS + BNWB: one BN row (gamma, beta, statistics) per step (1)
    bn_stats::Int32             # BN_RUNNING / BN_TRANSDUCTIVE / BN_SUPPORT (BN_SUPPORT)
    # outer loop
    multi_step_loss::Int32      # MSL: weighted query losses of every step (1)
    msl_epochs::Int32           # MSL is annealed over, and used for, this many epochs (10)
    second_order::Int32         # 1: second-order meta-gradients (after DA); 0: first order (1)
    first_order_epochs::Int32   # DA: first order for this many epochs, then second (50)
    meta_lr::Cfloat             # Adam learning rate at epoch 0 (0.001)
    meta_lr_min::Cfloat         # CA: cosine-annealed down to this at the last epoch (1e-5)
    adam_beta1::Cfloat          # Adam beta1 (0.9)
    adam_beta2::Cfloat          # Adam beta2 (0.99)
    # clamp each meta-gradient element of the network (weights, biases, BN gamma and beta) to
    # [-v, v], as the reference does; 0 = off; see grad_clip_lslr (0)
    grad_clip::Cfloat
    epochs::Int32               # schedule horizon in epochs (150)
    iters_per_epoch::Int32      # meta-train steps per epoch; epoch = step / this (500)
    # execution
    device_type::Int32          # DEVICE_AUTO / DEVICE_CPU / DEVICE_CUDA (DEVICE_AUTO)
    device_index::Int32         # CUDA device ordinal (0)
    reserved0::Int32            # must be 0
    seed::UInt64                # initialisation seed (0)
    task_batching::Int32        # TASKS_AUTO / TASKS_LOOP / TASKS_BATCHED (TASKS_AUTO)
    num_threads::Int32          # CPU worker threads for tasks of a meta-batch; 0 = cores (0)
    dtype::Int32                # DTYPE_FLOAT32 / DTYPE_FLOAT64 (DTYPE_FLOAT32)
    reserved1::Int32            # must be 0
    # ---- the 1.0 struct ends here (136 bytes) ----
    # 1: grad_clip also clamps the inner rates' meta-gradients, libmamlpp 1.0's behaviour (the
    # reference never clamps them) (0). Since 1.1
    grad_clip_lslr::Int32
    # ANIL: the inner loop (meta-training and adapt) adapts only the last k layers (1: only the
    # linear head; each conv stage and the head count one layer) and the layers before keep the
    # meta-weights; inner_lrs then has rows only for the adapted tensors. 0 = every layer;
    # [0, num_stages + 1] (0). Since 1.2, in the slot 1.1 named reserved2 (a 1.1 library refuses
    # a non-zero value with MAML_E_UNSUPPORTED)
    adapt_last_layers::Int32
    # ---- the 1.2 struct ends here (144 bytes) ----
    # Since 1.3 (a library older than 1.3 refuses a non-zero value in any of these with
    # MAML_E_UNSUPPORTED): the MLP backbone and regression
    backbone::Int32             # BACKBONE_CONV / BACKBONE_MLP (BACKBONE_CONV)
    input_features::Int32       # MLP: features per example, D; [1, 1048576] (1)
    hidden_layers::Int32        # MLP: hidden layers L, each linear -> BN -> activation; [1, 8] (2)
    # MLP: units of hidden layers 1..L, each in [1, 65536]; the entries after them are 0
    # ((40, 40, 0, 0, 0, 0, 0, 0); Config pads a shorter vector or tuple with zeros)
    hidden_sizes::NTuple{8,Int32}
    activation::Int32           # ACTIVATION_LEAKY_RELU / ACTIVATION_RELU (ACTIVATION_LEAKY_RELU)
    task_kind::Int32            # TASK_CLASSIFICATION / TASK_REGRESSION (TASK_CLASSIFICATION)
    n_outputs::Int32            # regression: values per example, M; [1, 100000] (1)
    batch_norm::Int32           # 1: BN after every conv stage or hidden layer; 0: none (1)
    reserved3::Int32            # must be 0
    # ---- the 1.3 struct ends here (208 bytes) ----
end

"Mirror of `maml_tasks`: a meta-batch in host memory (pointers read during the call only)."
struct MamlTasks
    struct_size::UInt32
    num_tasks::Int32
    support_size::Int32
    query_size::Int32
    support_x::Ptr{Cfloat}
    support_y::Ptr{Int32}
    query_x::Ptr{Cfloat}
    query_y::Ptr{Int32}
    # ---- the 1.0 struct ends here (48 bytes) ----
    support_t::Ptr{Cfloat}      # regression targets (since 1.3), or C_NULL
    query_t::Ptr{Cfloat}
end

"Mirror of `maml_metrics`: what a training or evaluation call measured."
struct MamlMetrics
    struct_size::UInt32
    loss::Cfloat
    accuracy::Cfloat
    meta_lr::Cfloat
    second_order::Int32
    reserved0::Int32
    step::Int64
    epoch::Int64
end

MamlMetrics() = MamlMetrics(UInt32(sizeof(MamlMetrics)), 0.0f0, 0.0f0, 0.0f0, Int32(0), Int32(0), 0, 0)

# ----------------------------------------------------------------------------------------------
# Errors
# ----------------------------------------------------------------------------------------------

"""
    MamlError <: Exception

A libmamlpp call failed. Fields: `status` (the `maml_status`, a negative `Int32`), `status_name`
(e.g. `"MAML_E_FORMAT"`), `message` (the library's `maml_last_error()` for this failure) and
`func` (the C function, e.g. `:maml_load`).
"""
struct MamlError <: Exception
    status::Int32
    status_name::String
    message::String
    func::Symbol
end

function Base.showerror(io::IO, e::MamlError)
    print(io, "MamlError: ", e.func, ": ", e.message, " (", e.status_name, ", status ", e.status, ")")
end

"The constant's name for a status, e.g. `\"MAML_E_IO\"` (`maml_status_string`)."
status_string(status::Integer) =
    unsafe_string(ccall((:maml_status_string, libmamlpp), Cstring, (Int32,), Int32(status)))

# The message is thread-local in the library: it is read right after the failing call, on the same
# thread (a ccall is not a yield point, so the task cannot migrate in between).
@noinline function throw_status(status::Int32, func::Symbol)
    msg = unsafe_string(ccall((:maml_last_error, libmamlpp), Cstring, ()))
    throw(MamlError(status, status_string(status), msg, func))
end

@inline check(status::Int32, func::Symbol) = status == MAML_OK ? nothing : throw_status(status, func)

# ----------------------------------------------------------------------------------------------
# Library
# ----------------------------------------------------------------------------------------------

function __init__()
    path = get(ENV, "MAMLPP_LIBRARY", "")
    if !isempty(path)
        # Opened first, by path: every later ccall((:f, "libmamlpp.so.1")) finds it by its SONAME.
        h = Libdl.dlopen(path, Libdl.RTLD_NOW | Libdl.RTLD_GLOBAL; throw_error = false)
        h === nothing && error("MamlPP: cannot load MAMLPP_LIBRARY=$(path)")
        mine = Libdl.dlsym(h, :maml_abi_version)
        used = Libdl.dlsym(Libdl.dlopen(libmamlpp), :maml_abi_version)
        mine == used || error("MamlPP: MAMLPP_LIBRARY=$(path) is not what $(libmamlpp) " *
                              "resolves to; is its SONAME $(libmamlpp)?")
    elseif Libdl.dlopen(libmamlpp; throw_error = false) === nothing
        error("MamlPP: cannot load $(libmamlpp); set MAMLPP_LIBRARY to its full path or add " *
              "its folder to LD_LIBRARY_PATH")
    end
    abi = ccall((:maml_abi_version, libmamlpp), Int32, ())
    abi == ABI_VERSION || error("MamlPP: libmamlpp has ABI version $(abi), but this binding " *
                                "was written for ABI version $(ABI_VERSION)")
    return nothing
end

"The library's version string, e.g. `\"1.3.0\"` (`maml_version_string`)."
library_version() = unsafe_string(ccall((:maml_version_string, libmamlpp), Cstring, ()))

"The library's version as major*10000 + minor*100 + patch (`maml_version_number`)."
library_version_number() = ccall((:maml_version_number, libmamlpp), Int32, ())

"The library's ABI version (`maml_abi_version`)."
abi_version() = ccall((:maml_abi_version, libmamlpp), Int32, ())

"How many CUDA devices LibTorch sees (`maml_cuda_device_count`)."
cuda_device_count() = ccall((:maml_cuda_device_count, libmamlpp), Int32, ())

"""
    set_cuda_deterministic(deterministic::Bool)

Chooses reproducible (`true`, the default) or fastest (`false`: cuDNN's nondeterministic
algorithms allowed) GPU arithmetic for every CUDA model of the process
(`maml_set_cuda_deterministic`). Process-wide and immediate: set it before starting work. No
effect on CPU models; never fails. Since libmamlpp 1.1.
"""
function set_cuda_deterministic(deterministic::Bool)
    ccall((:maml_set_cuda_deterministic, libmamlpp), Cvoid, (Int32,), deterministic ? 1 : 0)
    return nothing
end

"""
    cuda_memory(device_index = 0; reset_peak = false) -> (current_bytes, peak_bytes)

GPU memory held by LibTorch tensors on one CUDA device, for the whole process; the peak is since
start or the last reset, and `reset_peak` starts a new window after reading (`maml_cuda_memory`).
Throws a `MamlError` with `MAML_E_DEVICE` where there is no such GPU (every CPU-only build).
"""
function cuda_memory(device_index::Integer = 0; reset_peak::Bool = false)
    current, peak = Ref{Int64}(0), Ref{Int64}(0)
    check(ccall((:maml_cuda_memory, libmamlpp), Int32, (Int32, Int32, Ptr{Int64}, Ptr{Int64}),
                device_index, reset_peak ? 1 : 0, current, peak), :maml_cuda_memory)
    return (current[], peak[])
end

# ----------------------------------------------------------------------------------------------
# Config
# ----------------------------------------------------------------------------------------------

"""
    Config(; kwargs...) -> MamlConfig

The library's MAML++ defaults (Omniglot 5-way 1-shot, `maml_config_init_sized`) with the given
fields replaced, e.g. `Config(n_way = 5, num_filters = 32, device_type = MamlPP.DEVICE_CPU)`.
Values are converted to the field types; their validity is checked by the library when a
[`Model`](@ref) is created.
"""
function Config(; kwargs...)
    ref = Ref{MamlConfig}()
    check(ccall((:maml_config_init_sized, libmamlpp), Int32, (Ptr{MamlConfig}, UInt32),
                ref, UInt32(sizeof(MamlConfig))), :maml_config_init_sized)
    return isempty(kwargs) ? ref[] : Config(ref[]; kwargs...)
end

"""
    Config(base::MamlConfig; kwargs...) -> MamlConfig

A copy of `base` with the given fields replaced. `hidden_sizes` takes any vector or tuple of at
most `MAX_HIDDEN_LAYERS` integers, padded with zeros (`hidden_sizes = [40, 40]`).
"""
function Config(base::MamlConfig; kwargs...)
    for k in keys(kwargs)
        (k === :struct_size || !(k in fieldnames(MamlConfig))) &&
            throw(ArgumentError("maml_config has no field $(k)"))
    end
    vals = ntuple(fieldcount(MamlConfig)) do i
        name = fieldname(MamlConfig, i)
        haskey(kwargs, name) ? _field_value(fieldtype(MamlConfig, i), kwargs[name]) : getfield(base, i)
    end
    return MamlConfig(vals...)
end

_field_value(::Type{T}, v) where {T} = convert(T, v)
# An array field (hidden_sizes): a shorter collection is padded with zeros.
function _field_value(::Type{NTuple{N,T}}, v) where {N,T}
    length(v) <= N || throw(ArgumentError("hidden_sizes holds at most $(N) values, got $(length(v))"))
    vals = collect(v)
    return ntuple(i -> i <= length(vals) ? convert(T, vals[i]) : zero(T), N)
end

# ----------------------------------------------------------------------------------------------
# Metrics
# ----------------------------------------------------------------------------------------------

"""
    Metrics

What [`meta_train_step!`](@ref) or [`evaluate`](@ref) measured: `loss`, `accuracy`, `meta_lr`,
`second_order` (Bool), `step` (meta-train steps completed after the call) and `epoch`.
"""
struct Metrics
    loss::Float32
    accuracy::Float32
    meta_lr::Float32
    second_order::Bool
    step::Int64
    epoch::Int64
end

Metrics(m::MamlMetrics) = Metrics(m.loss, m.accuracy, m.meta_lr, m.second_order != 0, m.step, m.epoch)
# (For a regression model `loss` is the mean squared error and `accuracy` is NaN: not applicable.)

# ----------------------------------------------------------------------------------------------
# Arrays
# ----------------------------------------------------------------------------------------------

_floats(x::Array{Float32}) = x
_floats(x::AbstractArray{<:Real}) = convert(Array{Float32}, x)
_labels(y::Array{Int32}) = y
_labels(y::AbstractArray{<:Integer}) = convert(Array{Int32}, y)
# Labels (integers) or regression targets (floats), told apart by element type.
_is_targets(y) = y !== nothing && eltype(y) <: AbstractFloat

function _expect_length(what, have, need)
    have == need || throw(DimensionMismatch("$(what) has $(have) values, $(need) are needed"))
    return nothing
end

# Labels shaped (examples, num_tasks) give num_tasks; so do targets shaped (n_outputs, examples,
# num_tasks), or (examples, num_tasks) with one output; otherwise 1 unless given.
function _num_tasks(y, num_tasks, per = 1)
    num_tasks !== nothing && return Int(num_tasks)
    dims = _is_targets(y) && per > 1 ? 3 : 2
    return ndims(y) >= dims ? size(y, ndims(y)) : 1
end

# Examples per task: labels, or targets of `per` values each.
function _per_task(y, num_tasks, what, per = 1)
    n, r = divrem(length(y), num_tasks * per)
    r == 0 || throw(DimensionMismatch("$(what) has $(length(y)) values, not a multiple of " *
                                      "num_tasks=$(num_tasks) x $(per)"))
    return n
end

# The library sees a pointer only: an array's leading dimensions must be one example's shape
# ((W, H, C) or C*H*W for a conv model, input_features for an MLP), followed by at most
# `trailing` dimensions (examples; examples and tasks for a meta-batch). Flat vectors are only
# counted.
function _check_shape(x, what, m_example::Tuple, mlp::Bool, trailing::Int)
    ndims(x) <= 1 && return nothing
    sz = size(x)
    accepted = mlp ? [m_example] : [m_example, (prod(m_example),)]
    mlp && m_example == (1,) && ndims(x) <= trailing && return nothing  # (n,) or (n, tasks)
    !mlp && m_example[3] == 1 && push!(accepted, m_example[1:2])        # one channel: (W, H)
    for ex in accepted
        k = length(ex)
        ndims(x) >= k && sz[1:k] == ex && ndims(x) - k <= trailing && return nothing
    end
    if mlp
        throw(DimensionMismatch("$(what) has size $(sz), but this MLP model takes vectors of " *
                                "$(m_example[1]) features (input_features): give " *
                                "($(m_example[1]), n) or a flat vector" *
                                (ndims(x) > 1 + trailing ? " (an image-shaped array?)" : "")))
    end
    w, h, c = m_example
    throw(DimensionMismatch("$(what) has size $(sz), but this conv model takes images of " *
                            "(W, H, C) = ($(w), $(h), $(c)): give ($(w), $(h), $(c), n), " *
                            "($(w * h * c), n) or a flat vector"))
end

function _device(device)
    device isa Integer && return Int32(device)
    device === :auto && return DEVICE_AUTO
    device === :cpu && return DEVICE_CPU
    device === :cuda && return DEVICE_CUDA
    throw(ArgumentError("unknown device $(device) (use :auto, :cpu, :cuda or a DEVICE_* constant)"))
end

# ----------------------------------------------------------------------------------------------
# Model
# ----------------------------------------------------------------------------------------------

"""
    Model(cfg::MamlConfig)
    Model(; kwargs...)            # Model(Config(; kwargs...))
    Model(f::Function, cfg)       # do-block: closes the model afterwards

A meta-learner (`maml_model`), freshly initialised (`maml_create`). Free it with `close(model)`,
or leave it to the garbage collector (a finalizer frees it exactly once).
"""
mutable struct Model
    ptr::Ptr{Cvoid}
    image_size::NTuple{3,Int}   # (C, H, W)
    mlp::Bool                   # backbone == BACKBONE_MLP (since 1.3)
    input_features::Int         # MLP: floats per example
    regression::Bool            # task_kind == TASK_REGRESSION (since 1.3)
    n_outputs::Int              # regression: values per example

    function Model(ptr::Ptr{Cvoid})
        m = new(ptr, (0, 0, 0), false, 0, false, 0)
        finalizer(close, m)
        c = get_config(m)
        m.image_size = (Int(c.image_channels), Int(c.image_height), Int(c.image_width))
        # A library older than 1.3 zeroes the fields it does not know: a conv classifier.
        m.mlp = c.backbone == BACKBONE_MLP
        m.input_features = Int(c.input_features)
        m.regression = c.task_kind == TASK_REGRESSION
        m.n_outputs = Int(c.n_outputs)
        return m
    end
end

function Model(cfg::MamlConfig)
    out = Ref{Ptr{Cvoid}}(C_NULL)
    check(ccall((:maml_create, libmamlpp), Int32, (Ptr{MamlConfig}, Ptr{Ptr{Cvoid}}),
                Ref(cfg), out), :maml_create)
    return Model(out[])
end

Model(; kwargs...) = Model(Config(; kwargs...))

function Model(f::Function, cfg::MamlConfig)
    m = Model(cfg)
    try
        return f(m)
    finally
        close(m)
    end
end

"Frees the model now (`maml_free`). Idempotent; learners adapted from it stay valid."
function Base.close(m::Model)
    ptr = m.ptr
    if ptr != C_NULL
        m.ptr = C_NULL
        ccall((:maml_free, libmamlpp), Cvoid, (Ptr{Cvoid},), ptr)
    end
    return nothing
end

Base.isopen(m::Model) = m.ptr != C_NULL

# Passing a Model to a Ptr{Cvoid} argument roots it for the duration of the ccall.
function Base.unsafe_convert(::Type{Ptr{Cvoid}}, m::Model)
    m.ptr == C_NULL && throw(ArgumentError("operation on a closed Model"))
    return m.ptr
end

# Floats of one example, and its shape in Julia's order ((W, H, C) or (input_features,)).
_pixels(m::Model) = m.mlp ? m.input_features : prod(m.image_size)
_example_shape(m::Model) = m.mlp ? (m.input_features,) : reverse(m.image_size)

"""
    load_model(path; device = :auto, device_index = 0) -> Model

Loads a model saved by [`save`](@ref) (`maml_load`). `device` is `:auto`, `:cpu`, `:cuda` or a
`DEVICE_*` constant.
"""
function load_model(path::AbstractString; device = :auto, device_index::Integer = 0)
    out = Ref{Ptr{Cvoid}}(C_NULL)
    check(ccall((:maml_load, libmamlpp), Int32, (Cstring, Int32, Int32, Ptr{Ptr{Cvoid}}),
                path, _device(device), Int32(device_index), out), :maml_load)
    return Model(out[])
end

function load_model(f::Function, path::AbstractString; kwargs...)
    m = load_model(path; kwargs...)
    try
        return f(m)
    finally
        close(m)
    end
end

"""
    model_from_bytes(data::AbstractVector{UInt8}; device = :auto, device_index = 0) -> Model

Loads a model from the bytes [`to_bytes`](@ref) returned (`maml_load_buffer`).
"""
function model_from_bytes(data::AbstractVector{UInt8}; device = :auto, device_index::Integer = 0)
    bytes = data isa Vector{UInt8} ? data : Vector{UInt8}(data)
    out = Ref{Ptr{Cvoid}}(C_NULL)
    check(ccall((:maml_load_buffer, libmamlpp), Int32,
                (Ptr{Cvoid}, Csize_t, Int32, Int32, Ptr{Ptr{Cvoid}}),
                bytes, Csize_t(length(bytes)), _device(device), Int32(device_index), out),
          :maml_load_buffer)
    return Model(out[])
end

"""
    save(m::Model, path; inference_only = false)

Writes the model to `path`, atomically (`maml_save_ex`). With `inference_only`, only what
adapt and predict need is written.
"""
function save(m::Model, path::AbstractString; inference_only::Bool = false)
    check(ccall((:maml_save_ex, libmamlpp), Int32, (Ptr{Cvoid}, Cstring, Int32),
                m, path, inference_only ? SAVE_INFERENCE_ONLY : SAVE_DEFAULT), :maml_save_ex)
    return nothing
end

"""
    to_bytes(m::Model; inference_only = false) -> Vector{UInt8}

The bytes [`save`](@ref) would write (`maml_save_buffer_ex`, then `maml_buffer_free`).
"""
function to_bytes(m::Model; inference_only::Bool = false)
    data = Ref{Ptr{Cvoid}}(C_NULL)
    size = Ref{Csize_t}(0)
    check(ccall((:maml_save_buffer_ex, libmamlpp), Int32,
                (Ptr{Cvoid}, Int32, Ptr{Ptr{Cvoid}}, Ptr{Csize_t}),
                m, inference_only ? SAVE_INFERENCE_ONLY : SAVE_DEFAULT, data, size),
          :maml_save_buffer_ex)
    try
        bytes = Vector{UInt8}(undef, size[])
        unsafe_copyto!(pointer(bytes), Ptr{UInt8}(data[]), size[])
        return bytes
    finally
        ccall((:maml_buffer_free, libmamlpp), Cvoid, (Ptr{Cvoid},), data[])
    end
end

# ----------------------------------------------------------------------------------------------
# User metadata (since 1.1): string entries saved and loaded with the model
# ----------------------------------------------------------------------------------------------

function _metadata_text(s::AbstractString, what::AbstractString)
    occursin('\0', s) && throw(MamlError(MAML_E_INVALID_ARGUMENT, "MAML_E_INVALID_ARGUMENT",
                                               "$what contains a NUL byte", :maml_set_metadata))
    return String(s)
end

"""
    set_metadata!(m::Model, key, value)

Sets the user metadata entry `key` to `value` (`maml_set_metadata`); saved with the model.
Throws `MamlError` (`MAML_E_INVALID_ARGUMENT`) for a reserved or malformed key or value, or past the
limits (docs/FILE_FORMAT.md).
"""
function set_metadata!(m::Model, key::AbstractString, value::AbstractString)
    check(ccall((:maml_set_metadata, libmamlpp), Int32, (Ptr{Cvoid}, Cstring, Cstring),
                m, _metadata_text(key, "metadata key"), _metadata_text(value, "metadata value")),
          :maml_set_metadata)
    return m
end

"""
    remove_metadata!(m::Model, key)

Removes the user metadata entry `key` (`maml_set_metadata` with a NULL value); removing an absent
key is not an error.
"""
function remove_metadata!(m::Model, key::AbstractString)
    check(ccall((:maml_set_metadata, libmamlpp), Int32, (Ptr{Cvoid}, Cstring, Ptr{UInt8}),
                m, _metadata_text(key, "metadata key"), C_NULL),
          :maml_set_metadata)
    return m
end

"""
    get_metadata(m::Model, key, default = nothing)

The value of the user metadata entry `key` (`maml_get_metadata`), or `default` when absent.
"""
function get_metadata(m::Model, key::AbstractString, default = nothing)
    out = Ref{Ptr{UInt8}}(C_NULL)
    check(ccall((:maml_get_metadata, libmamlpp), Int32, (Ptr{Cvoid}, Cstring, Ptr{Ptr{UInt8}}),
                m, _metadata_text(key, "metadata key"), out),
          :maml_get_metadata)
    out[] == C_NULL && return default
    try
        return unsafe_string(out[])
    finally
        ccall((:maml_buffer_free, libmamlpp), Cvoid, (Ptr{Cvoid},), out[])
    end
end

"""
    metadata_keys(m::Model) -> Vector{String}

The keys of the user metadata entries, sorted (`maml_list_metadata`).
"""
function metadata_keys(m::Model)
    data = Ref{Ptr{UInt8}}(C_NULL)
    size = Ref{Csize_t}(0)
    check(ccall((:maml_list_metadata, libmamlpp), Int32, (Ptr{Cvoid}, Ptr{Ptr{UInt8}}, Ptr{Csize_t}),
                m, data, size),
          :maml_list_metadata)
    data[] == C_NULL && return String[]
    try
        raw = unsafe_string(data[], size[])
        return String.(split(raw, '\0'; keepempty = false))
    finally
        ccall((:maml_buffer_free, libmamlpp), Cvoid, (Ptr{Cvoid},), data[])
    end
end

"""
    metadata(m::Model) -> Dict{String,String}

Every user metadata entry (a copy).
"""
metadata(m::Model) = Dict(k => get_metadata(m, k) for k in metadata_keys(m))

"The model's config (`maml_get_config`)."
function get_config(m::Model)
    ref = Ref(Config())
    check(ccall((:maml_get_config, libmamlpp), Int32, (Ptr{Cvoid}, Ptr{MamlConfig}), m, ref),
          :maml_get_config)
    return ref[]
end

"Meta-train steps taken so far (`maml_get_step`)."
function get_step(m::Model)
    out = Ref{Int64}(0)
    check(ccall((:maml_get_step, libmamlpp), Int32, (Ptr{Cvoid}, Ptr{Int64}), m, out), :maml_get_step)
    return out[]
end

"Where the model's tensors live: `(:cpu, 0)` or `(:cuda, index)` (`maml_get_device`)."
function device(m::Model)
    t, i = Ref{Int32}(0), Ref{Int32}(0)
    check(ccall((:maml_get_device, libmamlpp), Int32, (Ptr{Cvoid}, Ptr{Int32}, Ptr{Int32}), m, t, i),
          :maml_get_device)
    return (t[] == DEVICE_CUDA ? :cuda : :cpu, Int(i[]))
end

"The number of learnable meta-parameters (`maml_num_parameters`)."
function num_parameters(m::Model)
    out = Ref{Int64}(0)
    check(ccall((:maml_num_parameters, libmamlpp), Int32, (Ptr{Cvoid}, Ptr{Int64}), m, out),
          :maml_num_parameters)
    return out[]
end

"""
    inner_lrs(m::Model) -> Vector{Pair{String,Vector{Float32}}}

The learned inner learning rates (LSLR): one `name => rates` pair per adapted tensor, with one
rate per inner step (`maml_inner_lr_shape`, `maml_get_inner_lrs`, `maml_inner_lr_name`).
"""
function inner_lrs(m::Model)
    nt, ns = Ref{Int32}(0), Ref{Int32}(0)
    check(ccall((:maml_inner_lr_shape, libmamlpp), Int32, (Ptr{Cvoid}, Ptr{Int32}, Ptr{Int32}),
                m, nt, ns), :maml_inner_lr_shape)
    t, s = Int(nt[]), Int(ns[])
    rates = Vector{Cfloat}(undef, max(t * s, 1))
    check(ccall((:maml_get_inner_lrs, libmamlpp), Int32, (Ptr{Cvoid}, Ptr{Cfloat}, Int64),
                m, rates, Int64(t * s)), :maml_get_inner_lrs)
    table = Pair{String,Vector{Float32}}[]
    name = Ref{Ptr{UInt8}}(C_NULL)
    for i in 0:t-1
        check(ccall((:maml_inner_lr_name, libmamlpp), Int32, (Ptr{Cvoid}, Int32, Ptr{Ptr{UInt8}}),
                    m, Int32(i), name), :maml_inner_lr_name)
        push!(table, unsafe_string(name[]) => rates[i*s+1:(i+1)*s])
    end
    return table
end

# Labels as Int32, or targets as Float32 (nothing stays nothing).
_labels_or_targets(y) = y === nothing ? nothing : (_is_targets(y) ? _floats(y) : _labels(y))
_label_ptr(y) = y === nothing || _is_targets(y) ? Ptr{Int32}(C_NULL) : pointer(y)
_target_ptr(y) = y !== nothing && _is_targets(y) ? pointer(y) : Ptr{Cfloat}(C_NULL)

# A maml_tasks over arrays the caller keeps alive (GC.@preserve) during the ccall. sy and qy are
# labels (Int32) or regression targets (Float32): which one the model takes, the library decides.
function _tasks(m::Model, sx, sy, qx, qy, num_tasks)
    per(y) = _is_targets(y) ? max(m.n_outputs, 1) : 1
    b = _num_tasks(sy, num_tasks, per(sy))
    s = _per_task(sy, b, "support_y", per(sy))
    _check_shape(sx, "support_x", _example_shape(m), m.mlp, 2)
    _expect_length("support_x", length(sx), b * s * _pixels(m))
    q = 0
    if qy !== nothing
        q = _per_task(qy, b, "query_y", per(qy))
        _check_shape(qx, "query_x", _example_shape(m), m.mlp, 2)
        _expect_length("query_x", length(qx), b * q * _pixels(m))
    end
    return MamlTasks(UInt32(sizeof(MamlTasks)), Int32(b), Int32(s), Int32(q),
                     pointer(sx), _label_ptr(sy),
                     qx === nothing ? Ptr{Cfloat}(C_NULL) : pointer(qx),
                     _label_ptr(qy), _target_ptr(sy), _target_ptr(qy))
end

"""
    meta_train_step!(m::Model, support_x, support_y, query_x, query_y; num_tasks = nothing) -> Metrics

One meta-train step on a meta-batch (`maml_meta_train_step`). Arrays hold the tasks one after
another; `num_tasks` defaults to the last dimension of matrix-shaped `support_y`
(`(support_size, num_tasks)`), else 1. For a regression model (since 1.3) `support_y` and
`query_y` are the `Float32` targets (any float array: `n_outputs` per example, shaped
`(n_outputs, size, num_tasks)` or, with one output, `(size, num_tasks)`); an integer array is
passed as labels, and a classifier refuses targets and a regression model labels with the
library's `MAML_E_INVALID_ARGUMENT`. Needs exclusive use of the model.
"""
function meta_train_step!(m::Model, support_x, support_y, query_x, query_y; num_tasks = nothing)
    sx, qx = _floats(support_x), _floats(query_x)
    sy, qy = _labels_or_targets(support_y), _labels_or_targets(query_y)
    metrics = Ref(MamlMetrics())
    GC.@preserve sx sy qx qy begin
        tasks = Ref(_tasks(m, sx, sy, qx, qy, num_tasks))
        check(ccall((:maml_meta_train_step, libmamlpp), Int32,
                    (Ptr{Cvoid}, Ptr{MamlTasks}, Ptr{MamlMetrics}), m, tasks, metrics),
              :maml_meta_train_step)
    end
    return Metrics(metrics[])
end

"""
    evaluate(m::Model, support_x, support_y, query_x, query_y; num_tasks = nothing) -> Metrics

Adapts every task and measures query loss and accuracy without changing the model
(`maml_evaluate`). Arguments as [`meta_train_step!`](@ref) (regression: float targets; the
accuracy is then NaN).
"""
function evaluate(m::Model, support_x, support_y, query_x, query_y; num_tasks = nothing)
    sx, qx = _floats(support_x), _floats(query_x)
    sy, qy = _labels_or_targets(support_y), _labels_or_targets(query_y)
    metrics = Ref(MamlMetrics())
    GC.@preserve sx sy qx qy begin
        tasks = Ref(_tasks(m, sx, sy, qx, qy, num_tasks))
        check(ccall((:maml_evaluate, libmamlpp), Int32,
                    (Ptr{Cvoid}, Ptr{MamlTasks}, Ptr{MamlMetrics}), m, tasks, metrics),
              :maml_evaluate)
    end
    return Metrics(metrics[])
end

# ----------------------------------------------------------------------------------------------
# Learner
# ----------------------------------------------------------------------------------------------

"""
    Learner

A model adapted to one task (`maml_learner`), from [`adapt`](@ref). Independent of its model
(closing the model does not invalidate it). Free it with `close(learner)` or leave it to the
garbage collector.
"""
mutable struct Learner
    ptr::Ptr{Cvoid}
    n_way::Int                   # the width of a prediction row: classes, or n_outputs
    example_shape::Tuple         # one example in Julia's order: (W, H, C) or (input_features,)
    mlp::Bool
    regression::Bool             # predicts values (since 1.3)

    function Learner(ptr::Ptr{Cvoid}, m::Model)
        l = new(ptr, 0, _example_shape(m), m.mlp, m.regression)
        finalizer(close, l)
        k = Ref{Int32}(0)
        check(ccall((:maml_learner_n_way, libmamlpp), Int32, (Ptr{Cvoid}, Ptr{Int32}), l, k),
              :maml_learner_n_way)
        l.n_way = Int(k[])
        return l
    end
end

"Frees the learner now (`maml_learner_free`). Idempotent."
function Base.close(l::Learner)
    ptr = l.ptr
    if ptr != C_NULL
        l.ptr = C_NULL
        ccall((:maml_learner_free, libmamlpp), Cvoid, (Ptr{Cvoid},), ptr)
    end
    return nothing
end

Base.isopen(l::Learner) = l.ptr != C_NULL

function Base.unsafe_convert(::Type{Ptr{Cvoid}}, l::Learner)
    l.ptr == C_NULL && throw(ArgumentError("operation on a closed Learner"))
    return l.ptr
end

"The width of a learner's prediction rows: the classes it predicts, or a regression learner's `n_outputs`."
n_way(l::Learner) = l.n_way

"""
    adapt(m::Model, support_x, support_y) -> Learner
    adapt(f::Function, m, support_x, support_y)   # do-block: closes the learner afterwards

Adapts the model to one task from `length(support_y)` labelled examples (`maml_adapt`). The
model is unchanged.
"""
function adapt(m::Model, support_x, support_y)
    x, y = _floats(support_x), _labels(support_y)
    n = length(y)
    _check_shape(x, "support_x", _example_shape(m), m.mlp, 1)
    _expect_length("support_x", length(x), n * _pixels(m))
    out = Ref{Ptr{Cvoid}}(C_NULL)
    check(ccall((:maml_adapt, libmamlpp), Int32,
                (Ptr{Cvoid}, Ptr{Cfloat}, Ptr{Int32}, Int32, Ptr{Ptr{Cvoid}}),
                m, x, y, Int32(n), out), :maml_adapt)
    return Learner(out[], m)
end

"""
    adapt_regression(m::Model, support_x, support_t) -> Learner
    adapt_regression(f::Function, m, support_x, support_t)   # do-block

Adapts a regression model (`task_kind = TASK_REGRESSION`) to one task from examples and their
`Float32` targets, `n_outputs` per example: `length(support_t) / n_outputs` examples
(`maml_adapt_regression`). [`predict`](@ref) on the learner returns the predicted values. A
classifier refuses this call with `MAML_E_INVALID_ARGUMENT` (use [`adapt`](@ref)). Since
libmamlpp 1.3: with an older library it throws a `MamlError` with `MAML_E_UNSUPPORTED`.
"""
function adapt_regression(m::Model, support_x, support_t)
    version = library_version_number()
    version >= REGRESSION_LIBRARY_VERSION ||
        throw(MamlError(MAML_E_UNSUPPORTED, "MAML_E_UNSUPPORTED",
                        "maml_adapt_regression needs libmamlpp 1.3 or later; the library is " *
                        library_version(), :maml_adapt_regression))
    x, t = _floats(support_x), _floats(support_t)
    per = max(m.n_outputs, 1)
    n, r = divrem(length(t), per)
    r == 0 || throw(DimensionMismatch("support_t has $(length(t)) values, not a multiple of " *
                                      "n_outputs=$(per)"))
    _check_shape(x, "support_x", _example_shape(m), m.mlp, 1)
    _expect_length("support_x", length(x), n * _pixels(m))
    out = Ref{Ptr{Cvoid}}(C_NULL)
    check(ccall((:maml_adapt_regression, libmamlpp), Int32,
                (Ptr{Cvoid}, Ptr{Cfloat}, Ptr{Cfloat}, Int32, Ptr{Ptr{Cvoid}}),
                m, x, t, Int32(n), out), :maml_adapt_regression)
    return Learner(out[], m)
end

function adapt_regression(f::Function, m::Model, support_x, support_t)
    l = adapt_regression(m, support_x, support_t)
    try
        return f(l)
    finally
        close(l)
    end
end

function adapt(f::Function, m::Model, support_x, support_y)
    l = adapt(m, support_x, support_y)
    try
        return f(l)
    finally
        close(l)
    end
end

"""
    adapt_tasks(m::Model, support_x, support_y; num_tasks = nothing) -> Vector{Learner}

Adapts several tasks at once (`maml_adapt_tasks`), one learner per task. Arrays and
`num_tasks` as in [`meta_train_step!`](@ref) (a regression model: float targets).
"""
function adapt_tasks(m::Model, support_x, support_y; num_tasks = nothing)
    sx, sy = _floats(support_x), _labels_or_targets(support_y)
    local out::Vector{Ptr{Cvoid}}
    GC.@preserve sx sy begin
        t = _tasks(m, sx, sy, nothing, nothing, num_tasks)
        out = fill(C_NULL, Int(t.num_tasks))
        check(ccall((:maml_adapt_tasks, libmamlpp), Int32,
                    (Ptr{Cvoid}, Ptr{MamlTasks}, Ptr{Ptr{Cvoid}}), m, Ref(t), out),
              :maml_adapt_tasks)
    end
    learners = Learner[]
    try
        for i in eachindex(out)
            p = out[i]
            out[i] = C_NULL
            push!(learners, Learner(p, m))
        end
    catch
        foreach(p -> ccall((:maml_learner_free, libmamlpp), Cvoid, (Ptr{Cvoid},), p), out)
        foreach(close, learners)
        rethrow()
    end
    return learners
end

"""
    predict(l::Learner, x) -> (labels = Vector{Int32}, logits = Matrix{Float32})
    predict(l::Learner, x) -> Matrix{Float32}      # a regression learner's values

Classifies the examples in `x` (`maml_predict`): `length(x) / (C*H*W)` of them (`input_features`
for an MLP). `labels` are the library's 0-based argmax of the logits; `logits` has size
`(n_way, n)`. A learner from [`adapt_regression`](@ref) returns its predicted values instead, a
`Matrix{Float32}` of size `(n_outputs, n)` (`maml_predict` with `labels` NULL).
"""
function predict(l::Learner, x)
    fx = _floats(x)
    _check_shape(fx, "x", l.example_shape, l.mlp, 1)
    pixels = prod(l.example_shape)
    n, r = divrem(length(fx), pixels)
    r == 0 || throw(DimensionMismatch("x has $(length(fx)) values, not a whole number of " *
                                      "examples of $(pixels) values (C*H*W, or input_features)"))
    if l.regression
        values = Matrix{Float32}(undef, l.n_way, n)
        check(ccall((:maml_predict, libmamlpp), Int32,
                    (Ptr{Cvoid}, Ptr{Cfloat}, Int32, Ptr{Cfloat}, Ptr{Int32}),
                    l, fx, Int32(n), values, Ptr{Int32}(C_NULL)), :maml_predict)
        return values
    end
    logits = Matrix{Float32}(undef, l.n_way, n)
    labels = Vector{Int32}(undef, n)
    check(ccall((:maml_predict, libmamlpp), Int32,
                (Ptr{Cvoid}, Ptr{Cfloat}, Int32, Ptr{Cfloat}, Ptr{Int32}),
                l, fx, Int32(n), logits, labels), :maml_predict)
    return (labels = labels, logits = logits)
end

# ----------------------------------------------------------------------------------------------
# Process groups (since 1.1): distributed meta-training over c10d
# ----------------------------------------------------------------------------------------------

"""
    Group

A membership in a process group (`maml_group`), for data-parallel meta-training over PyTorch's
c10d: N processes (ranks) each adapt their share of every meta-batch, and each step pools their
contributions into the step one process would take on the whole batch. Join with
[`join_group_env`](@ref) (under torchrun) or [`join_group`](@ref), then [`attach!`](@ref) a model.

Collective calls (joining, `attach!`, `allreduce_sum!`, and `meta_train_step!` on an attached
model) must be made by every rank in the same order; each returns once all ranks have made it. A
failed collective throws a `MamlError` with `MAML_E_DISTRIBUTED` on the ranks that did not cause
it. `close(group)` leaves the group at once, waiting for no other rank, and a model still attached
keeps the membership until it is detached or closed. A finalizer frees a forgotten group; close
groups explicitly (or use the do-block forms) to leave at a known point.
"""
mutable struct Group
    ptr::Ptr{Cvoid}

    function Group(ptr::Ptr{Cvoid})
        g = new(ptr)
        finalizer(close, g)
        return g
    end
end

"Leaves the group now (`maml_group_free`). Idempotent."
function Base.close(g::Group)
    ptr = g.ptr
    if ptr != C_NULL
        g.ptr = C_NULL
        ccall((:maml_group_free, libmamlpp), Cvoid, (Ptr{Cvoid},), ptr)
    end
    return nothing
end

Base.isopen(g::Group) = g.ptr != C_NULL

function Base.unsafe_convert(::Type{Ptr{Cvoid}}, g::Group)
    g.ptr == C_NULL && throw(ArgumentError("operation on a closed Group"))
    return g.ptr
end

"""
    join_group_env(; timeout = 0) -> Group
    join_group_env(f::Function; timeout = 0)   # do-block: closes the group afterwards

Joins the process group that torchrun describes in the environment: `RANK`, `WORLD_SIZE`,
`MASTER_ADDR`, `MASTER_PORT`, and `LOCAL_RANK` (optional, default `RANK`)
(`maml_group_join_env`). Collective: returns once all ranks have joined. `timeout`, in seconds,
bounds the rendezvous and every later collective: 0 means [`GROUP_DEFAULT_TIMEOUT`](@ref),
otherwise 0.1 to 86400. Throws `MamlError`: `MAML_E_INVALID_ARGUMENT` (a variable missing or
malformed; the message names it), `MAML_E_DISTRIBUTED` (the rendezvous failed or timed out),
`MAML_E_UNSUPPORTED` (no c10d Gloo in this build).
"""
function join_group_env(; timeout::Real = 0)
    out = Ref{Ptr{Cvoid}}(C_NULL)
    check(ccall((:maml_group_join_env, libmamlpp), Int32, (Cdouble, Ptr{Ptr{Cvoid}}),
                Float64(timeout), out), :maml_group_join_env)
    return Group(out[])
end

function join_group_env(f::Function; kwargs...)
    g = join_group_env(; kwargs...)
    try
        return f(g)
    finally
        close(g)
    end
end

"""
    join_group(master_addr, master_port, rank, world_size; local_rank = -1, timeout = 0) -> Group
    join_group(f::Function, master_addr, master_port, rank, world_size; ...)   # do-block

Joins a process group described explicitly (`maml_group_join`): rank 0 serves the rendezvous at
`master_addr:master_port` and every rank connects to it. `rank` in `0:world_size-1`;
`local_rank` is this rank's index on its machine (-1: `rank`). Otherwise as
[`join_group_env`](@ref); the library checks every value (an integer that does not fit in
`Int32` throws `InexactError`, a `master_addr` with a NUL `ArgumentError`).
"""
function join_group(master_addr::AbstractString, master_port::Integer, rank::Integer,
                    world_size::Integer; local_rank::Integer = -1, timeout::Real = 0)
    out = Ref{Ptr{Cvoid}}(C_NULL)
    check(ccall((:maml_group_join, libmamlpp), Int32,
                (Cstring, Int32, Int32, Int32, Int32, Cdouble, Ptr{Ptr{Cvoid}}),
                master_addr, master_port, rank, world_size, local_rank, Float64(timeout), out),
          :maml_group_join)
    return Group(out[])
end

function join_group(f::Function, args...; kwargs...)
    g = join_group(args...; kwargs...)
    try
        return f(g)
    finally
        close(g)
    end
end

"""
    group_rank(g::Group) -> (rank = ..., world_size = ..., local_rank = ...)

This process's rank, the number of ranks, and its index on its machine, e.g. the CUDA device to
use (`maml_group_rank`).
"""
function group_rank(g::Group)
    r, w, l = Ref{Int32}(0), Ref{Int32}(0), Ref{Int32}(0)
    check(ccall((:maml_group_rank, libmamlpp), Int32,
                (Ptr{Cvoid}, Ptr{Int32}, Ptr{Int32}, Ptr{Int32}), g, r, w, l), :maml_group_rank)
    return (rank = Int(r[]), world_size = Int(w[]), local_rank = Int(l[]))
end

"""
    allreduce_sum!(g::Group, values::Array{Float64}) -> values

Sums `values` over every rank, in place, in double precision (`maml_group_allreduce_sum`;
collective), e.g. for validation figures each rank computed on its share. 1 to 2^24 values, as
many on every rank; an empty array throws `MAML_E_INVALID_ARGUMENT` (and this rank does not take
part).
"""
function allreduce_sum!(g::Group, values::Array{Float64})
    check(ccall((:maml_group_allreduce_sum, libmamlpp), Int32, (Ptr{Cvoid}, Ptr{Cdouble}, Int64),
                g, values, Int64(length(values))), :maml_group_allreduce_sum)
    return values
end

"""
    allreduce_sum(g::Group, values) -> Array{Float64}

[`allreduce_sum!`](@ref) on a `Float64` copy of `values` (any collection of reals; its shape is
kept); `values` is not changed.
"""
allreduce_sum(g::Group, values) = allreduce_sum!(g, collect(Float64, values))

"""
    attach!(m::Model, g::Group) -> m

Attaches the model to a process group (`maml_group_attach`; collective: every rank attaches its
model). The ranks must agree on the library version, device type, dtype and config (all fields
but `device_index`, `num_threads` and `task_batching`), and every rank whose model has trained
must hold exactly rank 0's model; otherwise every rank throws `MAML_E_DISTRIBUTED` naming the
first rank and field that differ, and nothing is attached. Then rank 0's model is broadcast, so
the ranks start identical. From then on [`meta_train_step!`](@ref) is collective: each rank
passes its own share of the meta-batch. Attaching again replaces the group; the model keeps the
membership alive while attached, so the group may be closed first. Needs exclusive use of the
model.
"""
function attach!(m::Model, g::Group)
    check(ccall((:maml_group_attach, libmamlpp), Int32, (Ptr{Cvoid}, Ptr{Cvoid}), m, g),
          :maml_group_attach)
    return m
end

"""
    detach!(m::Model) -> m

Makes the model local again (`maml_group_detach`): `meta_train_step!` stops being collective. A
model that is not attached is not an error.
"""
function detach!(m::Model)
    check(ccall((:maml_group_detach, libmamlpp), Int32, (Ptr{Cvoid},), m), :maml_group_detach)
    return m
end

end # module
