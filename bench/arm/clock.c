// bench/arm: the clock this x86-64 core really runs at (boost included, as during the stage timings): a chain of
// dependent 1-cycle `add`s, 64 per loop iteration, timed in short chunks (≈ 20 µs) so that the best chunk is one the
// shared machine did not interrupt; cycles / seconds = Hz. Prints GHz of the best of 20,000 chunks.
#include <stdio.h>
#include <time.h>

static double seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

#define ADD8 "addq $1, %0\n\taddq $1, %0\n\taddq $1, %0\n\taddq $1, %0\n\taddq $1, %0\n\taddq $1, %0\n\taddq $1, %0\n\taddq $1, %0\n\t"

int main(void)
{
    const long iterations = 1000; // 64,000 cycles per chunk
    double best = 0;
    long x = 0;
    for (int chunk = 0; chunk < 20000; chunk++)
    {
        double t0 = seconds();
        for (long i = 0; i < iterations; i++)
            __asm__ volatile(ADD8 ADD8 ADD8 ADD8 ADD8 ADD8 ADD8 ADD8 : "+r"(x));
        double ghz = iterations * 64.0 / (seconds() - t0) / 1e9;
        if (ghz > best) best = ghz;
    }
    printf("%.3f\n", best);
    return x < 0;
}
