// The process-wide session ticket key ring: rotation every 12 hours, two old keys kept.
#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "tls/ticket_keys.hpp"

namespace scoregate::tls {
namespace {

using std::chrono::hours;
using std::chrono::steady_clock;

TEST(TicketKeyRing, RotatesEveryTwelveHoursAndKeepsTwoOldKeys) {
  steady_clock::time_point now = steady_clock::now();
  TicketKeyRing ring(TicketKeyRing::kRotation, [&] { return now; });
  auto first = ring.current().keys[0];
  EXPECT_EQ(ring.current().count, 1u);
  now += hours(11);
  EXPECT_EQ(ring.current().keys[0].name, first.name);

  std::vector<TicketKey> history{first};
  for (int i = 0; i < 3; ++i) {
    now += hours(12);
    const TicketKeySet& set = ring.current();
    EXPECT_NE(set.keys[0].name, history.back().name);
    history.push_back(set.keys[0]);
  }
  const TicketKeySet& set = ring.current();
  const TicketKey* found = nullptr;
  EXPECT_EQ(TicketKeyRing::lookup(set, history[3].name.data(), &found), 1);
  EXPECT_EQ(TicketKeyRing::lookup(set, history[2].name.data(), &found), 2);
  EXPECT_EQ(found->aes_key, history[2].aes_key);
  EXPECT_EQ(TicketKeyRing::lookup(set, history[1].name.data(), &found), 2);
  EXPECT_EQ(TicketKeyRing::lookup(set, history[0].name.data(), &found), 0);
}

TEST(TicketKeyRing, ManyThreadsSeeConsistentSetsWhileRotating) {
  TicketKeyRing ring;
  std::atomic<bool> stop{false};
  std::vector<std::thread> readers;
  std::atomic<int> bad{0};
  for (int t = 0; t < 4; ++t)
    readers.emplace_back([&] {
      while (!stop) {
        const TicketKeySet& s = ring.current();
        const TicketKey* k = nullptr;
        if (s.count < 1 || TicketKeyRing::lookup(s, s.keys[0].name.data(), &k) != 1) ++bad;
      }
    });
  for (int i = 0; i < 200; ++i) ring.rotate();
  stop = true;
  for (auto& r : readers) r.join();
  EXPECT_EQ(bad, 0);
}

std::string key_bytes(char fill) {
  std::string b(80, fill);
  b[0] = 'N';   // name
  b[16] = 'H';  // HMAC key
  b[48] = 'A';  // AES key
  return b;
}

TEST(TicketKeyFile, NginxLayoutOneToThreeKeys) {
  std::string why;
  auto one = parse_ticket_keys(key_bytes('x'), why);
  ASSERT_TRUE(one) << why;
  ASSERT_EQ(one->size(), 1u);
  EXPECT_EQ((*one)[0].name[0], 'N');
  EXPECT_EQ((*one)[0].name[15], 'x');
  EXPECT_EQ((*one)[0].hmac_key[0], 'H');
  EXPECT_EQ((*one)[0].aes_key[0], 'A');
  auto three = parse_ticket_keys(key_bytes('a') + key_bytes('b') + key_bytes('c'), why);
  ASSERT_TRUE(three) << why;
  EXPECT_EQ(three->size(), 3u);
  EXPECT_EQ((*three)[2].name[1], 'c');
}

TEST(TicketKeyFile, WrongSizesAndRepeatedNamesAreRefused) {
  std::string why;
  for (std::size_t n : {0, 1, 48, 79, 81, 320}) {
    EXPECT_FALSE(parse_ticket_keys(std::string(n, 'k'), why)) << n;
    EXPECT_NE(why.find(std::to_string(n) + " bytes"), std::string::npos) << why;
  }
  EXPECT_FALSE(parse_ticket_keys(key_bytes('a') + key_bytes('a'), why));
  EXPECT_NE(why.find("same name"), std::string::npos) << why;
}

TEST(TicketKeyRing, KeysFromAFileDoNotRotateAndGeneratedKeysResume) {
  steady_clock::time_point now = steady_clock::now();
  TicketKeyRing ring(TicketKeyRing::kRotation, [&] { return now; });
  auto generated = ring.current().keys[0];
  std::string why;
  auto file = *parse_ticket_keys(key_bytes('a') + key_bytes('b'), why);
  ring.use_keys(file);
  const TicketKeySet* set = &ring.current();
  EXPECT_TRUE(set->from_file);
  EXPECT_EQ(set->count, 2u);
  EXPECT_EQ(set->keys[0].name, file[0].name);
  now += hours(100);  // whoever writes the file rotates it, not scoregate
  EXPECT_EQ(ring.current().keys[0].name, file[0].name);
  const TicketKey* found = nullptr;
  EXPECT_EQ(TicketKeyRing::lookup(ring.current(), generated.name.data(), &found), 0);
  EXPECT_EQ(TicketKeyRing::lookup(ring.current(), file[1].name.data(), &found), 2);

  ring.use_generated();  // the setting was removed: new keys, the file's still decrypt
  set = &ring.current();
  EXPECT_FALSE(set->from_file);
  EXPECT_NE(set->keys[0].name, file[0].name);
  EXPECT_EQ(TicketKeyRing::lookup(*set, file[0].name.data(), &found), 2);
  auto current = set->keys[0].name;
  ring.use_generated();  // already generated: nothing changes
  EXPECT_EQ(ring.current().keys[0].name, current);
}

}  // namespace
}  // namespace scoregate::tls
