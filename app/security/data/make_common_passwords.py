"""Builds common-passwords.txt: the passwords people choose most often.

No network and no third-party list: the words below are the well-known
top entries of the published breach statistics (the same few hundred words
head every such list, German ones added) and the ways people stretch them
to a required length (digits, years, "!", doubling, keyboard walks, leet).
The login rule compares lower-cased, so everything here is lower case.
Run `python app/security/data/make_common_passwords.py` to rebuild.
"""
from __future__ import annotations

from pathlib import Path

WORDS = """
password passwort passw0rd p@ssw0rd p@ssword pass1234 kennwort geheim secret
admin administrator root login welcome willkommen letmein changeme default test
testtest guest master superuser system server access qwerty qwertz azerty
asdfgh yxcvbn zxcvbn qwertyuiop qwertzuiop asdfghjkl yxcvbnm zxcvbnm
iloveyou ichliebedich liebe schatz schatzi hallo hello hallo123 sunshine
princess prinzessin dragon drache monkey football fussball soccer baseball
basketball hockey tennis golf batman superman spiderman starwars pokemon
shadow master michael jennifer jessica ashley daniel thomas andreas stefan
stephan michaela sabine susanne nicole sandra julia anna lisa laura sarah
lena marie sophie leonie hannah lukas leon jonas felix maximilian alexander
christian martin markus sebastian tobias florian matthias peter klaus
juergen wolfgang frank bernd uwe dieter helmut manfred gerhard werner
mustang ferrari porsche mercedes bmw audi volkswagen golf opel toyota honda
harley yamaha jordan michelle charlie robert william joshua matthew
anthony andrew buster tigger ginger pepper maggie bailey cookie snoopy
killer hunter ranger rocky lucky sparky bandit blaze boomer diamond
freedom whatever trustno1 access14 hotdog hammer silver golden orange
banana apple cherry lemon chocolate coffee cheese butter summer winter
spring autumn sommer herbst fruehling sonne mond sterne stern himmel
blume blumen katze hund maus baer tiger loewe adler falke wolf fuchs
berlin hamburg muenchen koeln frankfurt stuttgart dresden leipzig hannover
bremen dortmund duesseldorf germany deutschland europa schalke bayern
borussia werder eintracht hertha union vfb hsv fcbayern
computer internet windows linux apple google facebook twitter youtube
samsung nokia iphone android laptop office microsoft oracle mysql
qazwsx qazwsxedc 1qaz2wsx 1q2w3e4r 1q2w3e 1q2w3e4r5t zaq12wsx zaq1zaq1
abc123 abcdef abcdefg abcdefgh a1b2c3 aaaaaa asdf1234 qwer1234 asdfasdf
money dollar euro geld reich gold business company firma versicherung
makler vermittler kunde vertrag provision finanzen allianz ergo axa
versicherungsmakler
love lover loveme lovely sexy secret1 hallo1 baby babygirl angel engel
teufel devil heaven hell god jesus christ gott amen blessed
matrix zeus thor odin merlin gandalf frodo hobbit harrypotter hogwarts
naruto sasuke goku vegeta mario luigi zelda minecraft fortnite roblox
starcraft warcraft diablo pokemon1 nintendo playstation xbox gamer
music musik rock metal punk jazz guitar gitarre piano klavier
summer2020 welcome1 password1 passwort1 start start123 anfang neu neustart
nothing nichts egal keine keins ohne kein niemand jemand irgendwas
qwerty1 qwertz1 asdf qwer yxcv 1234qwer qwert qwertz123 qwerty123
superstar rockstar champion winner sieger gewinner loser verlierer
freiheit frieden liebe123 familie family kinder children mutter vater
mama papa oma opa bruder schwester tochter sohn
""".split()

#: sequences and walks that are passwords on their own
SEQUENCES = [
    "123456", "1234567", "12345678", "123456789", "1234567890", "12345678910",
    "123456789012", "1234567890123", "0123456789", "01234567890", "987654321",
    "9876543210", "098765432", "0987654321", "111111", "1111111", "11111111",
    "111111111111", "000000", "0000000", "00000000", "000000000000", "121212",
    "123123", "123123123", "123123123123", "112233", "11223344", "111222333",
    "123321", "654321", "666666", "696969", "777777", "7777777", "888888",
    "999999", "123654", "147258369", "159753", "159357", "147852", "258456",
    "qwertyuiop123", "qwertzuiop123", "1qaz2wsx3edc", "1qaz2wsx3edc4rfv",
    "qazwsxedcrfv", "1q2w3e4r5t6y", "1q2w3e4r5t6z", "q1w2e3r4t5y6", "q1w2e3r4t5z6",
    "zaq1xsw2cde3", "asdfghjkl123", "asdfghjklö", "qwertyuiopasdfghjkl",
    "abcdefghijkl", "abcdefghijklmnop", "abcdefghijklmnopqrstuvwxyz",
    "aaaaaaaaaaaa", "abcabcabcabc", "abc123abc123", "passwordpassword",
    "passwortpasswort",
    "iloveyou123", "ichliebedich123", "letmein123", "welcome123", "willkommen123",
    "trustno1trustno1", "qwertyqwerty", "qwertzqwertz", "asdfasdfasdf",
]

SUFFIXES = ["", "1", "12", "123", "1234", "12345", "123456", "1234567", "12345678",
            "123456789", "!", "!!", "1!", "123!", "01", "007", "69", "88", "99", "2000",
            "11", "22", "00", "321", "#", ".", "?", "1234!", "12345!", "123456!"]
YEARS = [str(y) for y in range(1950, 2031)]


def leet(word: str) -> str:
    return word.translate(str.maketrans({"a": "@", "o": "0", "e": "3", "i": "1", "s": "$"}))


def build() -> list[str]:
    out: dict[str, None] = {}

    def add(value: str) -> None:
        value = value.strip().lower()
        if value:
            out.setdefault(value, None)

    for seq in SEQUENCES:
        add(seq)
    for word in WORDS:
        for suffix in SUFFIXES:
            add(word + suffix)
        for year in YEARS:
            add(word + year)
        add(word + word)
        add(word + word + "1")
        add(word + word + "123")
        add("my" + word)
        add("mein" + word)
        add("ilove" + word)
        add("ichliebe" + word)
        add(leet(word))
        add(leet(word) + "1")
        add(leet(word) + "123")
        add(leet(word) + "!")
        add(word + "_" + "123")
        add(word + "." + "123")
    return list(out)


def main() -> None:
    target = Path(__file__).with_name("common-passwords.txt")
    entries = build()
    header = ("# Common passwords, lower case, one a line: refused as passwords.\n"
              "# Generated by make_common_passwords.py (see its docstring).\n")
    target.write_text(header + "\n".join(entries) + "\n", encoding="utf-8")
    print(f"{len(entries)} entries written to {target}")


if __name__ == "__main__":
    main()
