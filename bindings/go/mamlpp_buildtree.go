//go:build mamlpp_buildtree

package mamlpp

// Built with -tags mamlpp_buildtree, cgo takes the header and the library straight from this
// repository's checkout: include/ and the CMake build folder build/ (the README's build command),
// with an rpath so that nothing else is needed at run time. The paths are relative to this file
// (${SRCDIR}), so `go test -tags mamlpp_buildtree ./...` works from bindings/go whatever the
// current directory of the shell that started it.

/*
#cgo CFLAGS: -I${SRCDIR}/../../include
#cgo LDFLAGS: -L${SRCDIR}/../../build/src/capi -Wl,-rpath,${SRCDIR}/../../build/src/capi
*/
import "C"
