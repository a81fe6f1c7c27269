# Reference rows for ci/bench-fleet: Python's multiprocessing.Queue and Pipe between two
# processes (round trips p50/p99, one-way throughput). Not a baseline to beat: a reference.
import multiprocessing as mp
import sys
import time


def pct(v, p):
    v = sorted(v)
    return v[int(p * (len(v) - 1))]


def pong_queue(a, b, n):
    for _ in range(n):
        b.put(a.get())


def pong_pipe(c, n):
    for _ in range(n):
        c.send(c.recv())


def round_trips(kind, n):
    if kind == "Queue":
        a, b = mp.Queue(), mp.Queue()
        p = mp.Process(target=pong_queue, args=(a, b, n))
        send, recv = a.put, b.get
    else:
        here, there = mp.Pipe()
        p = mp.Process(target=pong_pipe, args=(there, n))
        send, recv = here.send, here.recv
    p.start()
    us = []
    for i in range(n):
        t = time.perf_counter()
        send(i)
        recv()
        us.append((time.perf_counter() - t) * 1e6)
    p.join()
    print(f"python multiprocessing.{kind:<6} round trip  p50 {pct(us, 0.5):8.2f} p99 {pct(us, 0.99):8.2f} us")


def consume(q, n):
    for _ in range(n):
        q.get()


def throughput(n):
    q = mp.Queue(256)
    p = mp.Process(target=consume, args=(q, n))
    p.start()
    t = time.perf_counter()
    for i in range(n):
        q.put(i)
    p.join()
    print(f"python multiprocessing.Queue  SPSC throughput {n / (time.perf_counter() - t) / 1e6:8.2f} M msg/s")


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    round_trips("Queue", n)
    round_trips("Pipe", n)
    throughput(20 * n)
