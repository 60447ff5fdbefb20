#include "common/bus/auth.h"

#include <zmq.h>

#include "common/bus/keys.h"
#include "common/log/log.h"

namespace asb::bus {

void PrincipalTable::Add(Principal p) {
  key_by_name_[p.name] = p.public_key;
  std::string key = p.public_key;
  by_key_[key] = std::move(p);
}

const Principal* PrincipalTable::ByKey(const std::string& public_key) const {
  auto it = by_key_.find(public_key);
  return it == by_key_.end() ? nullptr : &it->second;
}

const Principal* PrincipalTable::ByName(const std::string& name) const {
  auto it = key_by_name_.find(name);
  return it == key_by_name_.end() ? nullptr : ByKey(it->second);
}

Authenticator::Authenticator(zmq::context_t* context, Loop* loop)
    : loop_(loop), socket_(*context, zmq::socket_type::rep) {
  socket_.set(zmq::sockopt::linger, 0);
  socket_.bind("inproc://zeromq.zap.01");
  loop_->AddSocket(&socket_, [this] { HandleRequests(); });
}

Authenticator::~Authenticator() { loop_->RemoveSocket(&socket_); }

void Authenticator::HandleRequests() {
  static auto* lg = log::Get("auth");
  while (true) {
    std::vector<zmq::message_t> frames;
    try {
      zmq::message_t frame;
      if (!socket_.recv(frame, zmq::recv_flags::dontwait)) {
        return;
      }
      frames.push_back(std::move(frame));
      while (frames.back().more()) {
        zmq::message_t next;
        (void)socket_.recv(next, zmq::recv_flags::none);
        frames.push_back(std::move(next));
      }
    } catch (const zmq::error_t& e) {
      SPDLOG_LOGGER_WARN(lg, "ZAP receive failed: {}", e.what());
      return;
    }
    // RFC 27: version, request id, domain, address, identity, mechanism, credentials…
    std::string request_id = frames.size() > 1 ? frames[1].to_string() : "";
    std::string address = frames.size() > 3 ? frames[3].to_string() : "";
    std::string mechanism = frames.size() > 5 ? frames[5].to_string() : "";
    std::string status = "400";
    std::string status_text = "unknown key";
    std::string user_id;
    std::string key_prefix = "(none)";
    if (frames.size() >= 7 && mechanism == "CURVE" && frames[6].size() == 32) {
      char z85[41];
      zmq_z85_encode(z85, static_cast<const uint8_t*>(frames[6].data()), 32);
      std::string key(z85);
      key_prefix = KeyPrefix(key);
      auto table = table_;
      if (const Principal* p = table->ByKey(key); p != nullptr) {
        status = "200";
        status_text = "OK";
        user_id = p->name;
      }
    } else if (mechanism != "CURVE") {
      status_text = "CURVE required";
    }
    // Counted and recorded before the answer goes out, so that whoever sees the refusal
    // can already see its record.
    if (status != "200") {
      ++refused_;
      SPDLOG_LOGGER_WARN(lg, "refused {} handshake from {} (key {})", mechanism, address,
                         key_prefix);
      if (on_refused_) {
        on_refused_(key_prefix, address);
      }
    }
    std::vector<std::string> reply{"1.0", request_id, status, status_text, user_id, ""};
    try {
      for (std::size_t i = 0; i < reply.size(); ++i) {
        socket_.send(zmq::buffer(reply[i]),
                     i + 1 < reply.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
      }
    } catch (const zmq::error_t& e) {
      SPDLOG_LOGGER_WARN(lg, "ZAP reply failed: {}", e.what());
    }
  }
}

}  // namespace asb::bus
