module libedera.dev/edera

go 1.19
