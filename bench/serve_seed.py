"""Seeds a running `pai serve` with memories for the recall benchmark:
COUNT memories in Korean and English over REST, 8 requests in flight."""

import concurrent.futures
import json
import random
import sys
import urllib.request

url, key, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
random.seed(7)
people = ["Jiwoo", "Minji", "Tom", "Hana", "엄마", "아빠", "지수", "Sara"]
things = ["likes jazz", "moved to Busan", "works at a bakery", "plays tennis on Sundays", "is allergic to peanuts",
          "부산에 산다", "커피를 좋아한다", "매주 월요일에 요가를 한다", "고양이를 키운다", "has a dentist appointment in March"]


def add(i):
    text = f"{random.choice(people)} {random.choice(things)} (note {i})"
    req = urllib.request.Request(f"{url}/api/memories", data=json.dumps({"text": text}).encode(), method="POST",
                                 headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    urllib.request.urlopen(req, timeout=60).read()


with concurrent.futures.ThreadPoolExecutor(8) as pool:
    list(pool.map(add, range(count)))
