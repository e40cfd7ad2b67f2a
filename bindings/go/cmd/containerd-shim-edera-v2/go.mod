// The containerd shim is built in GOPATH mode against Debian 12's Go
// library packages (/usr/share/gocode: golang-github-containerd-containerd-dev
// and what it pulls in), as Debian builds Go programs; this go.mod only
// keeps it out of the libedera.dev/edera module's ./... (which needs no
// containerd).  See the top-level Makefile.am (containerd-shim-edera-v2).
module libedera.dev/edera/cmd/containerd-shim-edera-v2

go 1.19
