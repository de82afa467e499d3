// Precompiled by CMake for the I/O folders (http, upstream, proxy, admin, runtime): these
// headers are large and never change, so parsing them once saves most of the build time.
#pragma once
#include <openssl/ssl.h>
#include <spdlog/spdlog.h>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/system/result.hpp>
