DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.com;
	s=rsa2048; t=1700000000; h=From:From:To:Subject:Subject:Date:Message-ID:
	MIME-Version:Content-Type:Content-Transfer-Encoding:X-Mailer-Tag:
	X-Mailer-Tag; bh=7lmwVoWr7XwPFC2TuRZfbyAiLaJ3HiShRBplvlvyLcE=; b=YjFExIL5sYc8
	hWNQUFt0rcsD52CoJZSyTfo4PULkOaQMksbipTk8SigBPX1batipxOYCBGBWkKLRFU7Eq35aP1Sl3
	Gng+IlfPKwdwA+BTiKXnXP1SFN3D4GgJy+/5r98EtSbktBLXVIk913FPUw02b5gEe4SNlIXb9Sg8x
	JTfPEAGdO11JxBpQPHt3AtaP6sR8EwhoybjelqL4k0ljW5guLe6MJaPhjUC+almkC+ZrfpBBvm5Ry
	oBEdveWjEfTjJ250bASOtxsR+vbVEMihpvSYCkzJCXjZEz6Bg4ejm547x1M6AwEYZosDjKptLdUo6
	9HqSYWfzFgXe1s0xz4Ne1Q==
