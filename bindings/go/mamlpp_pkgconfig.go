//go:build mamlpp_pkgconfig

package mamlpp

// Built with -tags mamlpp_pkgconfig, cgo asks pkg-config for the flags of mamlpp.pc.

/*
#cgo pkg-config: mamlpp
*/
import "C"
