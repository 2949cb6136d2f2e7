/// A URL slug made from `text`: lower-case ASCII letters and digits separated by single dashes,
/// at most 60 characters. Accented Latin letters lose their accents; other characters separate
/// words. Empty when nothing usable is left.
pub fn slugify(text: &str) -> String {
    let mut slug = String::with_capacity(text.len());
    for c in text.chars().flat_map(char::to_lowercase) {
        let mapped = match c {
            'a'..='z' | '0'..='9' => Some(c),
            'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' => Some('a'),
            'è' | 'é' | 'ê' | 'ë' | 'ē' => Some('e'),
            'ì' | 'í' | 'î' | 'ï' | 'ī' => Some('i'),
            'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' => Some('o'),
            'ù' | 'ú' | 'û' | 'ü' | 'ū' => Some('u'),
            'ç' => Some('c'),
            'ñ' => Some('n'),
            'ß' => Some('s'),
            'ý' | 'ÿ' => Some('y'),
            _ => None,
        };
        match mapped {
            Some(c) => slug.push(c),
            None if !slug.is_empty() && !slug.ends_with('-') => slug.push('-'),
            None => {}
        }
        if slug.len() >= 60 {
            break;
        }
    }
    slug.trim_matches('-').to_owned()
}

#[cfg(test)]
mod tests {
    use super::slugify;

    #[test]
    fn makes_readable_slugs() {
        assert_eq!(slugify("  Sunset over Lake Bled! "), "sunset-over-lake-bled");
        assert_eq!(slugify("Café Crème — No. 5"), "cafe-creme-no-5");
        assert_eq!(slugify("../../etc/passwd"), "etc-passwd");
        assert_eq!(slugify("日本"), "");
        assert!(slugify(&"long words ".repeat(20)).len() <= 60);
    }
}
