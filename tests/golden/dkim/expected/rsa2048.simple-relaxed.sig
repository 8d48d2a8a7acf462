DKIM-Signature: v=1; a=rsa-sha256; c=simple/relaxed; d=example.com; s=rsa2048;
	t=1700000000; h=From:From:To:Subject:Subject:Date:Message-ID:MIME-Version:
	Content-Type:Content-Transfer-Encoding:X-Mailer-Tag:X-Mailer-Tag;
	bh=7lmwVoWr7XwPFC2TuRZfbyAiLaJ3HiShRBplvlvyLcE=; b=OVcJiCfXAZfsWK5Vpr42/CQN6g
	0wMSon+MUkLOzn50Ojw4J5bw1Q9BgfhdCFgXwpwJvQeW/xJply5zZmnoUgSSFdqV3Q3gR6HkS7hou
	MVtdYhKTvMYPKCEXfOu31eTpK4HqgYygfOGXb7+wOhn4X+RvPT+6jT7tAQ73SEx0BMR9WDyOQg0ba
	9W49HHmEV0rBkZxRBVI/M7J/2qR9l7Xf6cqJMtt1W+XV06Mgv2nCQeD7qfGVSx5KepCzdpgS1tT6o
	vl1EY0HZwh6FanFyGtrC1NMKv6QRgaBadaIUsVZmCRV4lh6VCS/PMO7P4XgysLjdDMY50cIF5nF2o
	PYFnu8YA==
