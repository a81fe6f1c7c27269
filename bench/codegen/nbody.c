/* The C twin of nbody.truk. */
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <math.h>

typedef struct {
    double x, y, z, vx, vy, vz, mass;
} Body;

static double energy(Body *b, uint64_t n) {
    double e = 0.0;
    for (uint64_t i = 0; i < n; i++) {
        e += 0.5 * b[i].mass * (b[i].vx * b[i].vx + b[i].vy * b[i].vy + b[i].vz * b[i].vz);
        for (uint64_t j = i + 1; j < n; j++) {
            double dx = b[i].x - b[j].x, dy = b[i].y - b[j].y, dz = b[i].z - b[j].z;
            e -= b[i].mass * b[j].mass / sqrt(dx * dx + dy * dy + dz * dz);
        }
    }
    return e;
}

static void advance(Body *b, uint64_t n, double dt) {
    for (uint64_t i = 0; i < n; i++) {
        for (uint64_t j = i + 1; j < n; j++) {
            double dx = b[i].x - b[j].x, dy = b[i].y - b[j].y, dz = b[i].z - b[j].z;
            double d2 = dx * dx + dy * dy + dz * dz;
            double mag = dt / (d2 * sqrt(d2));
            b[i].vx -= dx * b[j].mass * mag;
            b[i].vy -= dy * b[j].mass * mag;
            b[i].vz -= dz * b[j].mass * mag;
            b[j].vx += dx * b[i].mass * mag;
            b[j].vy += dy * b[i].mass * mag;
            b[j].vz += dz * b[i].mass * mag;
        }
    }
    for (uint64_t i = 0; i < n; i++) {
        b[i].x += dt * b[i].vx;
        b[i].y += dt * b[i].vy;
        b[i].z += dt * b[i].vz;
    }
}

int main(int argc, char **argv) {
    int64_t steps = 5000000;
    if (argc > 1) steps = atoll(argv[1]);
    Body *b = malloc(5 * sizeof *b);
    double pi = 3.141592653589793, solar = 4.0 * pi * pi, dpy = 365.24;
    b[0] = (Body){0.0, 0.0, 0.0, 0.0, 0.0, 0.0, solar};
    b[1] = (Body){4.84143144246472090, -1.16032004402742839, -0.103622044471123109,
        0.00166007664274403694 * dpy, 0.00769901118419740425 * dpy,
        -0.0000690460016972063023 * dpy, 0.000954791938424326609 * solar};
    b[2] = (Body){8.34336671824457987, 4.12479856412430479, -0.403523417114321381,
        -0.00276742510726862411 * dpy, 0.00499852801234917238 * dpy,
        0.0000230417297573763929 * dpy, 0.000285885980666130812 * solar};
    b[3] = (Body){12.8943695621391310, -15.1111514016986312, -0.223307578892655734,
        0.00296460137564761618 * dpy, 0.00237847173959480950 * dpy,
        -0.0000296589568540237556 * dpy, 0.0000436624404335156298 * solar};
    b[4] = (Body){15.3796971148509165, -25.9193146099879641, 0.179258772950371181,
        0.00268067772490389322 * dpy, 0.00162824170038242295 * dpy,
        -0.0000951592254519715870 * dpy, 0.0000515138902046611451 * solar};
    double px = 0.0, py = 0.0, pz = 0.0;
    for (uint64_t i = 0; i < 5; i++) {
        px += b[i].vx * b[i].mass;
        py += b[i].vy * b[i].mass;
        pz += b[i].vz * b[i].mass;
    }
    b[0].vx = -px / solar;
    b[0].vy = -py / solar;
    b[0].vz = -pz / solar;
    printf("%.9f\n", energy(b, 5));
    for (int64_t s = 0; s < steps; s++) advance(b, 5, 0.01);
    printf("%.9f\n", energy(b, 5));
    free(b);
    return 0;
}
