module userservice/bench

go 1.19
