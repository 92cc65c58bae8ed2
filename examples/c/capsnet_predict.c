/* capsnet_predict: classifies 28x28 digit images with libcapsnet_mnist (the MNIST CapsNet, weights embedded).
 *
 *   capsnet_predict [--weights FILE.safetensors] [--top K] IMAGE...
 *
 * IMAGE: a PGM (binary P5 with maxval <= 255, or ASCII P2) or a raw file of exactly 784 bytes (row-major, 0 = black).
 * Prints, per image, the lines "image <path>", "class <n>" ("class <n> (<name>)" when the weights name their classes,
 * e.g. a Fashion-MNIST file) and "lengths <10 capsule lengths>" (%.9g: every float digit, so other programs can
 * compare them). --top K (2 .. CAPSNET_MNIST_CLASSES) replaces the class line by K lines "top <rank> <length> <class>",
 * longest capsule first, from capsnet_mnist_predict_top (as `capsnet predict --top K`; MultiMNIST's two digits are
 * K = 2, paper section 6). Exit status 0 when every image was classified, 1 otherwise.
 * Build: see Makefile, or
 *   cc -O2 -I LIBDIR capsnet_predict.c -L LIBDIR -lcapsnet_mnist -Wl,-rpath,'$ORIGIN' -o LIBDIR/capsnet_predict
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ctype.h>

#include "capsnet_mnist.h"

/* Reads the next PGM header integer, skipping whitespace and # comments; -1 on error. */
static long pgm_int(FILE *f)
{
    int c = fgetc(f);
    for (;;) {
        while (c != EOF && isspace(c)) c = fgetc(f);
        if (c != '#') break;
        while (c != EOF && c != '\n') c = fgetc(f);
    }
    if (c == EOF || !isdigit(c)) return -1;
    long v = 0;
    while (c != EOF && isdigit(c)) {
        if (v > 1000000) return -1;
        v = v * 10 + (c - '0');
        c = fgetc(f);
    }
    return v; /* the single whitespace after the header's maxval is consumed here, as P5 requires */
}

/* Loads a 28x28 image as floats in [0, 1] (sample / maxval, computed in double like the capsnet CLI). 0 on success. */
static int load_image(const char *path, float *image)
{
    FILE *f = fopen(path, "rb");
    if (!f) { perror(path); return -1; }
    int ok = -1;
    char magic[2];
    if (fread(magic, 1, 2, f) == 2 && magic[0] == 'P' && (magic[1] == '5' || magic[1] == '2')) {
        long w = pgm_int(f), h = pgm_int(f), max = pgm_int(f);
        if (w != CAPSNET_MNIST_INPUT_SIDE || h != CAPSNET_MNIST_INPUT_SIDE)
            fprintf(stderr, "%s: the image is %ldx%ld; the model needs %dx%d\n", path, w, h, CAPSNET_MNIST_INPUT_SIDE, CAPSNET_MNIST_INPUT_SIDE);
        else if (max < 1 || max > (magic[1] == '5' ? 255 : 65535))
            fprintf(stderr, "%s: maxval %ld is not supported (P5: 1..255, P2: 1..65535)\n", path, max);
        else {
            ok = 0;
            for (int i = 0; i < CAPSNET_MNIST_INPUT_LENGTH && ok == 0; i++) {
                long v = magic[1] == '5' ? fgetc(f) : pgm_int(f);
                if (v < 0 || v > max) { fprintf(stderr, "%s: pixel %d is missing or above maxval\n", path, i); ok = -1; }
                else image[i] = (float)((double)v / (double)max);
            }
        }
    } else {
        /* Not a PGM: a raw file must be exactly 784 bytes. */
        unsigned char raw[CAPSNET_MNIST_INPUT_LENGTH + 1];
        rewind(f);
        size_t n = fread(raw, 1, sizeof raw, f);
        if (n != CAPSNET_MNIST_INPUT_LENGTH)
            fprintf(stderr, "%s: not a PGM and not a raw image of %d bytes (%zu%s bytes)\n", path,
                CAPSNET_MNIST_INPUT_LENGTH, n, n > CAPSNET_MNIST_INPUT_LENGTH ? " or more" : "");
        else {
            for (int i = 0; i < CAPSNET_MNIST_INPUT_LENGTH; i++) image[i] = (float)((double)raw[i] / 255.0);
            ok = 0;
        }
    }
    fclose(f);
    return ok;
}

static void print_error(const char *what)
{
    char message[1024];
    capsnet_mnist_last_error(message, sizeof message);
    fprintf(stderr, "%s: %s\n", what, message);
}

int main(int argc, char **argv)
{
    const char *weights_path = NULL;
    long top = 1;
    int first = 1;
    while (first + 1 < argc) {
        if (strcmp(argv[first], "--weights") == 0) weights_path = argv[first + 1];
        else if (strcmp(argv[first], "--top") == 0) {
            char *end;
            top = strtol(argv[first + 1], &end, 10);
            if (*end != '\0' || top < 1 || top > CAPSNET_MNIST_CLASSES) {
                fprintf(stderr, "--top must be a whole number from 1 to %d, got '%s'\n", CAPSNET_MNIST_CLASSES, argv[first + 1]);
                return 2;
            }
        }
        else break;
        first += 2;
    }
    if (first >= argc) {
        fprintf(stderr, "usage: %s [--weights FILE.safetensors] [--top K] IMAGE...\n", argv[0]);
        return 2;
    }
    if (strcmp(capsnet_mnist_version(), CAPSNET_MNIST_VERSION) != 0) {
        fprintf(stderr, "libcapsnet_mnist is version %s; this program was built with the header of %s\n",
            capsnet_mnist_version(), CAPSNET_MNIST_VERSION);
        return 2;
    }

    capsnet_mnist_weights *weights = NULL;
    capsnet_mnist_workspace *workspace = NULL;
    int status = weights_path ? capsnet_mnist_weights_load(weights_path, &weights) : capsnet_mnist_weights_embedded(&weights);
    if (status < 0) { print_error("weights"); return 1; }
    if (capsnet_mnist_workspace_create(&workspace) < 0) { print_error("workspace"); capsnet_mnist_weights_free(weights); return 1; }
    fprintf(stderr, "libcapsnet_mnist %s, SIMD tier %s\n", capsnet_mnist_version(), capsnet_mnist_simd_tier());

    int failed = 0;
    float image[CAPSNET_MNIST_INPUT_LENGTH];
    float lengths[CAPSNET_MNIST_CLASSES];
    int32_t ranked[CAPSNET_MNIST_CLASSES];
    for (int k = first; k < argc; k++) {
        if (load_image(argv[k], image) != 0) { failed = 1; continue; }
        int cls = top == 1
            ? capsnet_mnist_predict(weights, workspace, image, CAPSNET_MNIST_INPUT_LENGTH, lengths, CAPSNET_MNIST_CLASSES)
            : capsnet_mnist_predict_top(weights, workspace, image, CAPSNET_MNIST_INPUT_LENGTH, lengths, CAPSNET_MNIST_CLASSES,
                ranked, (size_t)top);
        if (cls < 0) { print_error(argv[k]); failed = 1; continue; }
        if (top == 1) ranked[0] = cls;
        printf("image    %s\n", argv[k]);
        int named = 1;
        for (int r = 0; r < top && named; r++) {
            char name[256], number[16];
            if (capsnet_mnist_class_name(weights, ranked[r], name, sizeof name) < 0) { print_error(argv[k]); named = 0; break; }
            snprintf(number, sizeof number, "%d", ranked[r]);
            if (top == 1) printf("class    %d", ranked[r]);
            else printf("top %-4d %.9g  %d", r + 1, lengths[ranked[r]], ranked[r]);
            if (strcmp(name, number) != 0) printf(" (%s)", name);
            printf("\n");
        }
        if (!named) { failed = 1; continue; }
        printf("lengths ");
        for (int j = 0; j < CAPSNET_MNIST_CLASSES; j++) printf(" %.9g", lengths[j]);
        printf("\n");
    }
    capsnet_mnist_workspace_free(workspace);
    capsnet_mnist_weights_free(weights);
    return failed;
}
