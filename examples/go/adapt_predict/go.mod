module github.com/libmamlpp/mamlpp-go/examples/adapt_predict

go 1.19

require github.com/libmamlpp/mamlpp-go v0.0.0

// Use the binding from this source tree (no download).
replace github.com/libmamlpp/mamlpp-go => ../../../bindings/go
