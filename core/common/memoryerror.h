#pragma once
// A refusal because the machine lacks the memory a request needs, the figures in the message
// ("… needs ~N GiB of memory, this machine has M GiB"). It is an rs::Error, shown verbatim like
// any other; a caller that knows which of its settings made the request that large adds advice
// naming them (the CLI names the command's own options). Header-only, Qt Core.
#include "common/error.h"

namespace rs {

class MemoryError : public Error {
public:
    using Error::Error;
};

} // namespace rs
