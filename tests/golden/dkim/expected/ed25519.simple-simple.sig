DKIM-Signature: v=1; a=ed25519-sha256; c=simple/simple; d=example.com;
	s=ed25519; t=1700000000; h=From:From:To:Subject:Subject:Date:Message-ID:
	MIME-Version:Content-Type:Content-Transfer-Encoding:X-Mailer-Tag:
	X-Mailer-Tag; bh=pMQApiodJ2guvsTgSZ7HlfdV5QXoyFDXofW+q5WuT6I=; b=rOQBDxJFAs8p
	Of4a2hV61zZGo54FYwzIiSS4H/UrG80LtIVnNsy7BP3MZRrXaT/1Dr7v7QHXzVpj7xMSftO3AA==
