// LMDB from Debian's liblmdb-dev; the Store module (a later issue) wraps it.
#include <lmdb.h>
