// The NATS C client (Debian's libnats-dev 3.4.1, with JetStream): the cluster
// mode's replicated log (issue 24). StitchLog wraps it.
#include <nats/nats.h>
