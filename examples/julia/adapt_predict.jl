# Few-shot adaptation with libmamlpp from Julia: load a meta-initialisation, adapt it to five
# labelled examples, classify new images.
#
#   MAMLPP_LIBRARY=/path/to/libmamlpp.so.1 \
#     julia --project=bindings/julia examples/julia/adapt_predict.jl MODEL.maml TASKS.bin [EXPECTED.txt]
#
# MODEL.maml   a model saved by libmamlpp (e.g. the `example_model` test fixture)
# TASKS.bin    one task in the fixture format of tests/fixtures/README.md (MAMLTASK, little-endian)
# EXPECTED.txt optional: what the C ABI predicted (example_expected.txt); labels must match and
#              logits agree to 1e-4 (relative to max(|logit|, 1)), else exit status 1
#
# NOTE: written but NOT run (Julia is not installed where this was written); see
# bindings/julia/README.md.
using MamlPP

"Reads a MAMLTASK file: (n_way, (C, H, W), support_x, support_y, query_x, query_y)."
function read_tasks(path)
    open(path, "r") do io
        String(read(io, 8)) == "MAMLTASK" || error("$(path): not a MAMLTASK file")
        hdr = [ltoh(read(io, Int32)) for _ in 1:7]
        version, n_way, c, h, w, n_support, n_query = hdr
        version == 1 || error("$(path): format version $(version), this reader knows 1")
        pix = Int(c * h * w)
        readf(n) = [ltoh(read(io, Float32)) for _ in 1:n]
        readi(n) = [ltoh(read(io, Int32)) for _ in 1:n]
        # The file is NCHW (C row-major); as a flat Julia vector the memory is the same.
        support_x = readf(n_support * pix)
        support_y = readi(n_support)
        query_x = readf(n_query * pix)
        query_y = readi(n_query)
        return Int(n_way), (Int(c), Int(h), Int(w)), support_x, support_y, query_x, query_y
    end
end

"Reads example_expected.txt: a vector of (true_label, predicted_label, logits)."
function read_expected(path)
    rows = Tuple{Int,Int,Vector{Float64}}[]
    for line in eachline(path)
        (startswith(line, "#") || isempty(strip(line))) && continue
        f = split(line)
        push!(rows, (parse(Int, f[2]), parse(Int, f[3]), parse.(Float64, f[4:end])))
    end
    return rows
end

function main(args)
    if !(length(args) in (2, 3))
        println(stderr, "usage: adapt_predict.jl MODEL.maml TASKS.bin [EXPECTED.txt]")
        return 2
    end
    n_way, shape, support_x, support_y, query_x, query_y = read_tasks(args[2])

    model = load_model(args[1]; device = :cpu)
    cfg = get_config(model)
    println("libmamlpp $(library_version()), model: $(cfg.n_way)-way, ",
            "$(cfg.image_channels)x$(cfg.image_height)x$(cfg.image_width) images, ",
            "$(get_step(model)) meta-train steps, $(device(model))")
    learner = adapt(model, support_x, support_y)   # 0-based labels, as in C
    close(model)                                   # the learner does not need the model
    labels, logits = predict(learner, query_x)     # logits: (n_way, n_queries)
    close(learner)

    println("query true predicted logits")
    for i in eachindex(labels)
        println(lpad(i - 1, 5), lpad(query_y[i], 5), lpad(labels[i], 10), "  ",
                join((rpad(string(round(v; digits = 5)), 9) for v in logits[:, i]), " "))
    end
    println(count(labels .== query_y), " of ", length(labels), " right")

    if length(args) == 3
        expected = read_expected(args[3])
        length(expected) == length(labels) || (println(stderr, "query count differs"); return 1)
        worst = 0.0
        for (i, (truth, want_label, want_logits)) in enumerate(expected)
            if labels[i] != want_label || query_y[i] != truth
                println(stderr, "query $(i - 1): label $(labels[i]), the C ABI gave $(want_label)")
                return 1
            end
            for (got, want) in zip(logits[:, i], want_logits)
                worst = max(worst, abs(got - want) / max(abs(want), 1.0))
            end
        end
        println("matches $(args[3]) (largest relative logit difference $(worst))")
        worst > 1e-4 && return 1
    end
    return 0
end

exit(main(ARGS))
