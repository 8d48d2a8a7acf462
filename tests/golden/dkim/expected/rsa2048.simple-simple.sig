DKIM-Signature: v=1; a=rsa-sha256; c=simple/simple; d=example.com; s=rsa2048;
	t=1700000000; h=From:From:To:Subject:Subject:Date:Message-ID:MIME-Version:
	Content-Type:Content-Transfer-Encoding:X-Mailer-Tag:X-Mailer-Tag;
	bh=pMQApiodJ2guvsTgSZ7HlfdV5QXoyFDXofW+q5WuT6I=; b=gq1ZX1vPUUwzjtBXcH8ftYqcJX
	fVCazSFaF5TFWNOgbq2pUxqyZMeGuWE4dYbMTNTtX6uYlHsjdxlFUFMaiZ4HQ9ghMIl3p6o9ylg+m
	DLazJCqsTO+6+8+b8fiH/YPnTYyBrsMdDw73zOA3ykaCe3hlr2csoF+Y0SjwTwUqtzn72f0Ncp+Zz
	lN85givD+Ve0teACr2MwKDYHPdFN/aQ2H6bggKLXqw0w+QSaeMQDvghJUILqxRvSJWep5G1bj5s//
	urR6UFeeMz49fwMi7+sdy9+vgf/QmtELi5rEmpylmzs/58dMaFrrOjX96GHSb5v3VitLv1PmfuCqn
	1fGQZGwA==
