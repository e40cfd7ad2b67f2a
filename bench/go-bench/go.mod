module libedera.dev/edera/bench

go 1.19

require libedera.dev/edera v0.0.0

replace libedera.dev/edera => ../../bindings/go
