/* The C twin of trees.truk. */
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>

typedef struct Node {
    struct Node *left, *right;
} Node;

static Node *build(int depth) {
    Node *n = malloc(sizeof *n);
    if (depth > 0) {
        n->left = build(depth - 1);
        n->right = build(depth - 1);
    } else {
        n->left = n->right = NULL;
    }
    return n;
}

static int64_t check(Node *n) {
    if (!n->left) return 1;
    return 1 + check(n->left) + check(n->right);
}

static void free_tree(Node *n) {
    if (n->left) {
        free_tree(n->left);
        free_tree(n->right);
    }
    free(n);
}

int main(int argc, char **argv) {
    int max_depth = 16;
    if (argc > 1) max_depth = (int)atoll(argv[1]);
    Node *long_lived = build(max_depth);
    for (int d = 4; d <= max_depth; d += 2) {
        int iters = 1 << (max_depth - d + 4);
        int64_t total = 0;
        for (int i = 0; i < iters; i++) {
            Node *t = build(d);
            total += check(t);
            free_tree(t);
        }
        printf("%d trees of depth %d check %lld\n", iters, d, (long long)total);
    }
    printf("long lived tree check %lld\n", (long long)check(long_lived));
    free_tree(long_lived);
    return 0;
}
