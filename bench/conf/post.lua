-- wrk: POST the file named by $BENCH_BODY as JSON on every request (keep-alive).
local f = assert(io.open(assert(os.getenv("BENCH_BODY"), "set BENCH_BODY"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
