// Asio, Asio-SSL and Beast compiled once for the whole project (separate compilation), as Beast's
// own tests do: BOOST_ASIO_SEPARATE_COMPILATION and BOOST_BEAST_SEPARATE_COMPILATION are PUBLIC on
// fleetdesk_net, so every other file includes only declarations.
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
